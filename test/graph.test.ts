// The graph IR: build-time shape errors, and the ONNX emission of each primitive and composite
// checked against plain-JS arithmetic (float64) on small inputs.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { GraphError } from '../src/errors.js';
import { concat, Graph, type Value } from '../src/graph/ir.js';
import { layerNorm, multiHeadAttention, quickGelu, splitInProj } from '../src/graph/nn.js';
import { toOnnx } from '../src/graph/onnx.js';
import { Session } from '../src/runtime/session.js';

function seq(n: number, f = (i: number) => Math.sin(i * 1.3) * 2): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => f(i));
}

async function run(g: Graph, feeds: Record<string, { data: Float32Array | Int32Array; shape: number[] }>) {
  const s = await Session.create(g);
  const out = await s.run(feeds);
  await s.release();
  return out;
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number) {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol, `index ${i}: ${actual[i]} vs ${expected[i]}`);
  }
}

test('shape mismatches are reported at build time with the op and shapes', () => {
  const g = new Graph();
  const a = g.input('a', 'float32', ['batch', 3, 4]);
  const b = g.input('b', 'float32', [5, 6]);
  assert.throws(
    () => a.matmul(b),
    (e: Error) =>
      e instanceof GraphError &&
      /MatMul\(float32\[batch, 3, 4\], float32\[5, 6\]/.test(e.message) &&
      /inner dimensions differ: 4 vs 5/.test(e.message),
  );
  assert.throws(() => a.add(g.input('c', 'float32', [3, 5])), /Add.*do not broadcast/);
  assert.throws(() => a.reshape(['batch', 5]), /Reshape.*cannot reshape 12 elements into 5/);
  assert.throws(() => a.transpose([0, 0, 1]), /not a permutation/);
  assert.throws(() => a.slice(1, 2, 9), /out of range/);
  const img = g.input('img', 'float32', ['batch', 3, 8, 8]);
  assert.throws(() => img.conv2d(g.input('w', 'float32', [4, 2, 3, 3])), /Conv.*3 channels, weight expects 2/);
  assert.throws(() => a.add(g.input('i', 'int32', [4])), /dtypes differ/);
});

test('symbolic batch dims broadcast with themselves and survive reshape/transpose', () => {
  const g = new Graph();
  const x = g.input('x', 'float32', ['batch', 6]);
  const y = x.reshape(['batch', 2, 3]).transpose([0, 2, 1]);
  assert.deepEqual(y.shape, ['batch', 3, 2]);
  assert.deepEqual(x.add(g.input('y', 'float32', ['batch', 1])).shape, ['batch', 6]);
});

test('symbolic dims merge into one; reshapes ONNX cannot express fail at build time', async () => {
  const g = new Graph();
  const x = g.input('x', 'float32', ['batch', 'seq', 4]);
  const rows = x.reshape(['batch*seq', 4]); // one new symbol for the merged ones: ONNX's -1
  assert.deepEqual(rows.shape, ['batch*seq', 4]);
  g.output('y', rows.mul(2));
  const data = seq(2 * 3 * 4);
  const out = await run(g, { x: { data, shape: [2, 3, 4] } });
  assert.deepEqual(out.y!.shape, [6, 4]);
  assertClose(
    out.y!.data as Float32Array,
    Array.from(data, (v) => 2 * v),
    0,
  );
  assert.throws(() => rows.reshape(['batch', 'seq', 4]), /introduces a symbolic dim/); // two unknowns from one
  assert.throws(() => x.reshape(['seq', 'batch', 4]), /more than one symbolic dim moves/);
});

test('layerNorm, quickGelu and softmax match the formulas', async () => {
  const g = new Graph();
  const x = g.input('x', 'float32', ['batch', 5]);
  const w = g.constant(
    seq(5, (i) => 1 + i / 10),
    [5],
  );
  const b = g.constant(
    seq(5, (i) => i / 7),
    [5],
  );
  g.output('ln', layerNorm(x, w, b));
  g.output('gelu', quickGelu(x));
  g.output('softmax', x.softmax(-1));
  const data = seq(10);
  const out = await run(g, { x: { data, shape: [2, 5] } });
  const ln: number[] = [];
  const sm: number[] = [];
  for (let r = 0; r < 2; r++) {
    const row = Array.from(data.subarray(r * 5, r * 5 + 5));
    const mean = row.reduce((s, v) => s + v, 0) / 5;
    const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / 5;
    row.forEach((v, i) => ln.push(((v - mean) / Math.sqrt(variance + 1e-5)) * (1 + i / 10) + i / 7));
    const z = row.reduce((s, v) => s + Math.exp(v), 0);
    row.forEach((v) => sm.push(Math.exp(v) / z));
  }
  assertClose(out.ln!.data as Float32Array, ln, 1e-5);
  assertClose(out.softmax!.data as Float32Array, sm, 1e-6);
  assertClose(
    out.gelu!.data as Float32Array,
    Array.from(data, (v) => v / (1 + Math.exp(-1.702 * v))),
    1e-5,
  );
});

test('multi-head attention matches a naive per-head computation, with a causal mask', async () => {
  const [L, D, H] = [3, 4, 2];
  const g = new Graph();
  const x = g.input('x', 'float32', ['batch', L, D]);
  const inW = seq(3 * D * D, (i) => Math.cos(i * 0.7) / 2);
  const inB = seq(3 * D, (i) => i / 20);
  const outW = seq(D * D, (i) => Math.sin(i * 0.3) / 2);
  const outB = seq(D, (i) => -i / 10);
  const mask = new Float32Array(L * L);
  for (let i = 0; i < L; i++) for (let j = i + 1; j < L; j++) mask[i * L + j] = -Infinity;
  const p = splitInProj(
    g.constant(inW, [3 * D, D]),
    g.constant(inB, [3 * D]),
    g.constant(outW, [D, D]),
    g.constant(outB, [D]),
  );
  g.output('y', multiHeadAttention(x, x, p, H, g.constant(mask, [L, L])));
  const data = seq(2 * L * D);
  const out = await run(g, { x: { data, shape: [2, L, D] } });

  const lin = (v: number[], w: Float32Array, b: Float32Array, rows: number, off: number) =>
    Array.from({ length: rows }, (_, o) => v.reduce((s, vi, i) => s + vi * w[(off + o) * v.length + i]!, b[off + o]!));
  const expected: number[] = [];
  for (let n = 0; n < 2; n++) {
    const tok = (t: number) => Array.from(data.subarray((n * L + t) * D, (n * L + t + 1) * D));
    const q = [0, 1, 2].map((t) => lin(tok(t), inW, inB, D, 0));
    const k = [0, 1, 2].map((t) => lin(tok(t), inW, inB, D, D));
    const v = [0, 1, 2].map((t) => lin(tok(t), inW, inB, D, 2 * D));
    for (let t = 0; t < L; t++) {
      const attended: number[] = [];
      for (let h = 0; h < H; h++) {
        const hd = D / H;
        const logits = [0, 1, 2].map((s) =>
          s > t
            ? -Infinity
            : q[t]!.slice(h * hd, h * hd + hd).reduce((acc, qi, i) => acc + qi * k[s]![h * hd + i]!, 0) / Math.sqrt(hd),
        );
        const z = logits.reduce((acc, l) => acc + Math.exp(l), 0);
        for (let i = 0; i < hd; i++)
          attended.push([0, 1, 2].reduce((acc, s) => acc + (Math.exp(logits[s]!) / z) * v[s]![h * hd + i]!, 0));
      }
      expected.push(...lin(attended, outW, outB, D, 0));
    }
  }
  assertClose(out.y!.data as Float32Array, expected, 1e-5);
});

test('conv2d, average pooling, gather, concat and pickPerRow', async () => {
  const g = new Graph();
  const img = g.input('img', 'float32', ['batch', 1, 4, 4]);
  const kernel = g.constant(Float32Array.of(1, 0, 0, -1), [1, 1, 2, 2]);
  const conv = img.conv2d(kernel, { stride: 2 });
  g.output('conv', conv);
  g.output('pool', img.avgPool2d(2));
  const table = g.constant(
    seq(6, (i) => i * 10),
    [3, 2],
  );
  const ids = g.input('ids', 'int32', ['batch', 2]);
  const rows = table.gather(ids); // [batch, 2, 2]
  g.output('rows', rows);
  g.output('cat', concat([rows, rows.mul(-1)], 2));
  g.output('picked', rows.pickPerRow(ids.cast('float32').argmax(-1)));
  const data = seq(16, (i) => i);
  const out = await run(g, { img: { data, shape: [1, 1, 4, 4] }, ids: { data: Int32Array.of(2, 0), shape: [1, 2] } });
  // conv: x[0,0] - x[1,1] of each 2×2 block = -5 everywhere.
  assert.deepEqual(Array.from(out.conv!.data as Float32Array), [-5, -5, -5, -5]);
  assert.deepEqual(Array.from(out.pool!.data as Float32Array), [2.5, 4.5, 10.5, 12.5]);
  assert.deepEqual(Array.from(out.rows!.data as Float32Array), [40, 50, 0, 10]);
  assert.deepEqual(Array.from(out.cat!.data as Float32Array), [40, 50, -40, -50, 0, 10, -0, -10]);
  // argmax of ids [2, 0] is position 0 → row 0 of rows.
  assert.deepEqual(Array.from(out.picked!.data as Float32Array), [40, 50]);
});

test('weights can be written as ONNX external data (the path for models over 2 GB)', async () => {
  const g = new Graph();
  const x = g.input('x', 'float32', ['batch', 512]);
  const w = g.param(
    'big.weight',
    seq(512 * 3, (i) => (i % 7) - 3),
    [512, 3],
  );
  g.output('y', x.matmul(w));
  const dir = mkdtempSync(join(tmpdir(), 'clip-ext-'));
  try {
    writeFileSync(join(dir, 'm.onnx'), toOnnx(g, { externalDataPath: join(dir, 'm.onnx.data') }));
    const session = await ort.InferenceSession.create(join(dir, 'm.onnx'));
    const input = new ort.Tensor(
      'float32',
      seq(512, () => 1),
      [1, 512],
    );
    const { y } = await session.run({ x: input });
    const col = (c: number) => Array.from({ length: 512 }, (_, r) => ((r * 3 + c) % 7) - 3).reduce((a, b) => a + b, 0);
    assert.deepEqual(Array.from(y!.data as Float32Array), [col(0), col(1), col(2)]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a graph input returned as an output is copied under the output name', async () => {
  const g = new Graph();
  const x: Value = g.input('x', 'float32', [2]);
  g.output('same', x);
  g.output('twice', x.mul(2));
  const out = await run(g, { x: { data: Float32Array.of(1, 2), shape: [2] } });
  assert.deepEqual(Array.from(out.same!.data as Float32Array), [1, 2]);
  assert.deepEqual(Array.from(out.twice!.data as Float32Array), [2, 4]);
});
