// CLIP on onnxruntime-node: the platform-free model (clip-model.ts) with its towers compiled to
// Node ONNX Runtime sessions, optionally kept on disk (compiledDir) for the next load.

import { join } from 'node:path';
import { Session, type RuntimeOptions } from '../runtime/session.js';
import type { StateDict } from '../tensor.js';
import { ClipModel, type LazyWeights, type Precision } from './clip-model.js';
import type { ClipConfig } from './config.js';

export {
  buildImageGraph, buildTextGraph, normalizeRows, clipLogits, trimPadding, lengthBuckets, logitScaleOf,
  ClipModel, type ClipLogits, type LazyWeights, type OpenTower, type Precision, type TowerGraphOptions,
} from './clip-model.js';

export interface ClipRuntimeOptions extends RuntimeOptions {
  /** Keep each tower's compiled ONNX model in `<compiledDir>/{image,text}` and reuse it (see Session.cached). */
  compiledDir?: string;
  /**
   * 'fp32' (default, matches the reference) or 'int8': weight matmuls with int8 weights and
   * dynamically quantized activations (graph/quantize.ts): faster, not exact.
   */
  precision?: Precision;
}

export class CLIP extends ClipModel {
  constructor(weights: StateDict | LazyWeights, runtime: ClipRuntimeOptions = {}, config?: ClipConfig) {
    const { compiledDir } = runtime;
    super(weights, (name, build) => (compiledDir
      ? Session.cached(join(compiledDir, name), build, runtime)
      : build().then((g) => Session.create(g, runtime))), config, runtime.precision);
  }
}
