// The GEMM ceiling of this CPU under ONNX Runtime: fp32 MatMul against the int8 path that
// `precision: 'int8'` uses (DynamicQuantizeMatMul: activations quantized per call, int8 weights),
// on ViT-B/32's linear-layer shapes at batch 32 (1600 tokens) and batch 1 (50), and a square one.
// The int8 model cannot beat fp32 by more than these kernels do.
//   node dist/bench/gemm.js [--threads 2]
import { parseArgs } from 'node:util';
import { Graph } from '../src/graph/ir.js';
import { quantizeWeightMatmuls } from '../src/graph/quantize.js';
import { Session } from '../src/runtime/session.js';
import { median } from './models.js';

const { values } = parseArgs({ options: { threads: { type: 'string', default: '2' } } });
const threads = Number(values.threads);

/** Median milliseconds of y = x [M, K] @ W [K, N] (W a constant, as in a loaded model). */
async function matmulMs(M: number, K: number, N: number, int8: boolean): Promise<number> {
  const g = new Graph();
  const w = g.constant(
    Float32Array.from({ length: K * N }, (_, i) => Math.sin(i * 0.7) * 0.05),
    [K, N],
  );
  g.output('y', g.input('x', 'float32', [M, K]).matmul(w));
  if (int8) quantizeWeightMatmuls(g);
  const session = await Session.create(g, { threads, spinning: false });
  const x = { data: Float32Array.from({ length: M * K }, (_, i) => Math.sin(i)), shape: [M, K] };
  await session.run({ x });
  const times: number[] = [];
  for (let i = 0; i < 15; i++) {
    const start = performance.now();
    await session.run({ x });
    times.push(performance.now() - start);
  }
  await session.release();
  return median(times);
}

for (const [M, K, N] of [
  [1600, 768, 3072],
  [1600, 3072, 768],
  [50, 768, 3072],
  [2048, 2048, 2048],
] as const) {
  const fp32 = await matmulMs(M, K, N, false);
  const int8 = await matmulMs(M, K, N, true);
  const rate = (ms: number) => Math.round((2 * M * K * N) / ms / 1e6);
  console.log(
    JSON.stringify({
      shape: `${M}x${K}x${N}`,
      threads,
      fp32_ms: +fp32.toFixed(1),
      fp32_gflops: rate(fp32),
      int8_ms: +int8.toFixed(1),
      int8_gops: rate(int8),
      int8_speedup: +(fp32 / int8).toFixed(2),
    }),
  );
}
