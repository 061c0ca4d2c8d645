// Precision 'int8' for a tower: the weight matmuls with int8 weights and quantized activations
// (graph/quantize.ts), and, given calibration inputs, the image tower's convolutions statically
// quantized (graph/quantize-conv.ts: QLinearConv). Without calibration the convolutions stay
// float32, since their activation ranges must be known in advance. Matmul activations are
// quantized per batch (dynamic, the default: as fast and more accurate, docs/benchmarks.md) or,
// with matmuls 'static' and calibration inputs, with calibrated scales.

import type { Graph, Value } from '../graph/ir.js';
import { calibrationValues, observe, quantizeConvs, type Ranges } from '../graph/quantize-conv.js';
import { matmulCalibrationValues, quantizeWeightMatmuls } from '../graph/quantize.js';
import type { TensorLike } from '../runtime/ort-session.js';
import { Session, type RuntimeOptions } from '../runtime/session.js';

/** Rows per calibration run (bounded memory: every calibrated activation is an output). */
const CALIBRATION_BATCH = 4;

/** How int8 matmuls quantize their float input: per batch, or with calibrated scales. */
export type MatmulQuantization = 'dynamic' | 'static';

export interface Int8Options extends RuntimeOptions {
  /** Default 'dynamic'; 'static' needs calibration inputs (else it is dynamic). */
  matmuls?: MatmulQuantization;
}

/** Rows [start, end) of a tensor along its first axis. */
function rows(t: TensorLike, start: number, end: number): TensorLike {
  const per = t.data.length / (t.shape[0] ?? 1);
  return {
    data: t.data.subarray(start * per, end * per) as TensorLike['data'],
    shape: [end - start, ...t.shape.slice(1)],
  };
}

/** Ranges of `values` over the calibration inputs (one tensor per graph input, equal rows), in the float32 graph. */
async function calibrate(
  graph: Graph,
  values: readonly Value[],
  inputs: Record<string, TensorLike>,
  opts: RuntimeOptions,
): Promise<Ranges> {
  const before = graph.outputs.length;
  values.forEach((v, i) => graph.output(`calibration.${i}`, v));
  const ranges: Ranges = new Map();
  const session = await Session.create(graph, opts);
  try {
    const n = Math.min(...Object.values(inputs).map((t) => t.shape[0] ?? 0));
    for (let start = 0; start < n; start += CALIBRATION_BATCH) {
      const end = Math.min(n, start + CALIBRATION_BATCH);
      const feeds = Object.fromEntries(Object.entries(inputs).map(([name, t]) => [name, rows(t, start, end)]));
      const out = await session.run(feeds);
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

/**
 * Rewrites a tower's graph for precision int8. `calibration` feeds the graph's inputs (`images`
 * [N, 3, R, R] for an image tower, `tokens` for a text tower); without it, convolutions stay
 * float32 and matmuls are dynamic.
 */
export async function quantizeTower(
  graph: Graph,
  calibration: Record<string, TensorLike> | undefined,
  opts: Int8Options,
): Promise<void> {
  const calibrated = calibration && Object.values(calibration).every((t) => (t.shape[0] ?? 0) > 0);
  if (!calibration || !calibrated) {
    quantizeWeightMatmuls(graph);
    return;
  }
  const staticMatmuls = opts.matmuls === 'static';
  const values = [...calibrationValues(graph), ...(staticMatmuls ? matmulCalibrationValues(graph) : [])];
  const ranges = await calibrate(graph, values, calibration, opts);
  quantizeConvs(graph, ranges);
  quantizeWeightMatmuls(graph, staticMatmuls ? ranges : undefined);
}
