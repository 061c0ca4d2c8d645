// CLIP on onnxruntime-node: the platform-free model (clip-model.ts) with its towers compiled to
// Node ONNX Runtime sessions, optionally int8 (int8.ts), optionally kept on disk (compiledDir) for
// the next load.

import { join } from 'node:path';
import type { ClipConfig } from '../models/config.js';
import { Session, type RuntimeOptions } from '../runtime/session.js';
import type { StateDict, Tensor } from '../tensor.js';
import { ClipModel, type LazyWeights, type Precision } from './clip-model.js';
import { quantizeTower, type MatmulQuantization } from './int8.js';

export interface ClipRuntimeOptions extends RuntimeOptions {
  /** Keep each tower's compiled ONNX model in `<compiledDir>/{image,text}` and reuse it (see Session.cached). */
  compiledDir?: string;
  /**
   * 'fp32' (default, matches the reference) or 'int8': weight matmuls with int8 weights and
   * dynamically quantized activations (graph/quantize.ts): faster, not exact.
   */
  precision?: Precision;
  /**
   * With precision 'int8': preprocessed images [N, 3, R, R] on which the image tower's
   * convolutions are calibrated and quantized too (int8.ts); kept in the compiled cache
   * as `image-int8-calibrated`, which later int8 loads use without calibration images.
   */
  calibrationImages?: Tensor;
  /**
   * With calibration images: how the image tower's int8 matmuls quantize their input, 'dynamic'
   * (default: per batch) or 'static' (calibrated scales; measured no faster and a little less
   * accurate, docs/benchmarks.md). Kept in the compiled cache apart from the default.
   */
  int8Matmuls?: MatmulQuantization;
}

export class CLIP extends ClipModel {
  constructor(weights: StateDict | LazyWeights, runtime: ClipRuntimeOptions = {}, config?: ClipConfig) {
    const { compiledDir, precision, calibrationImages, int8Matmuls } = runtime;
    const int8 = precision === 'int8';
    super(
      weights,
      (tower, buildFloat) => {
        // int8 image towers with calibrated convolutions (clip quantize) are kept apart and preferred.
        const calibratedName = `image-int8-calibrated${int8Matmuls === 'static' ? '-static' : ''}`;
        const calibratedDir = compiledDir && join(compiledDir, calibratedName);
        const calibrated =
          int8 && tower === 'image' && (calibrationImages || (calibratedDir && Session.isCached(calibratedDir)));
        const build = async () => {
          const graph = await buildFloat();
          const calibration = calibrated && calibrationImages ? { images: calibrationImages } : undefined;
          if (int8) await quantizeTower(graph, calibration, { ...runtime, matmuls: int8Matmuls });
          return graph;
        };
        if (!compiledDir) return build().then((g) => Session.create(g, runtime));
        const dir = calibrated && calibratedDir ? calibratedDir : join(compiledDir, int8 ? `${tower}-int8` : tower);
        return Session.cached(dir, build, runtime);
      },
      config,
    );
  }
}
