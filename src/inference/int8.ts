// Precision 'int8' for a tower: the weight matmuls with int8 weights and dynamically quantized
// activations (graph/quantize.ts), and, given calibration images, the image tower's convolutions
// statically quantized (graph/quantize-conv.ts: QLinearConv). Without calibration the
// convolutions stay float32, since their activation ranges must be known in advance.

import type { Graph } from '../graph/ir.js';
import { calibrationValues, observe, quantizeConvs, type Ranges } from '../graph/quantize-conv.js';
import { quantizeWeightMatmuls } from '../graph/quantize.js';
import { Session, type RuntimeOptions } from '../runtime/session.js';
import type { Tensor } from '../tensor.js';

/** Images per calibration run (bounded memory: every convolution's activations are outputs). */
const CALIBRATION_BATCH = 4;

/** Ranges of every convolution's input and output over `images` [N, 3, R, R], from the float32 graph. */
async function calibrate(graph: Graph, images: Tensor, opts: RuntimeOptions): Promise<Ranges> {
  const values = calibrationValues(graph);
  const before = graph.outputs.length;
  values.forEach((v, i) => graph.output(`calibration.${i}`, v));
  const ranges: Ranges = new Map();
  const session = await Session.create(graph, opts);
  try {
    const [n, ...rest] = images.shape as [number, ...number[]];
    const per = rest.reduce((a, b) => a * b, 1);
    for (let start = 0; start < n; start += CALIBRATION_BATCH) {
      const end = Math.min(n, start + CALIBRATION_BATCH);
      const batch = { data: images.data.subarray(start * per, end * per), shape: [end - start, ...rest] };
      const out = await session.run({ images: batch });
      values.forEach((v, i) => {
        const data = out[`calibration.${i}`]?.data;
        if (!(data instanceof Float32Array)) throw new Error(`calibration run gave no float32 output ${i}`);
        observe(ranges, v.id, data);
      });
    }
  } finally {
    await session.release();
    graph.outputs.splice(before);
  }
  return ranges;
}

/** Rewrites a tower's graph for precision int8; convolutions only when calibration images are given. */
export async function quantizeTower(graph: Graph, images: Tensor | undefined, opts: RuntimeOptions): Promise<void> {
  if (images && images.shape[0]) quantizeConvs(graph, await calibrate(graph, images, opts));
  quantizeWeightMatmuls(graph);
}
