// Weights in the layout their consumer reads (graph/fold.ts): layout ops on initializers are
// applied when serialising, and x @ wᵀ reads w in place (FusedMatMul transB), so ONNX Runtime
// never folds a transposed copy at load time. Values must equal the unfolded graph's.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { foldedWeight } from '../src/graph/fold.js';
import { Graph } from '../src/graph/ir.js';
import { linear } from '../src/graph/nn.js';
import { toOnnx } from '../src/graph/onnx.js';
import { Session } from '../src/runtime/session.js';

const iota = (n: number) => Float32Array.from({ length: n }, (_, i) => i);

test('foldedWeight applies Transpose (any permutation), Slice (any axis) and Reshape to a weight', () => {
  const g = new Graph();
  const w = g.param('w', iota(2 * 3 * 4), [2, 3, 4]);
  const t = foldedWeight(g, w.transpose([2, 0, 1]))!;
  // out[k, i, j] = w[i, j, k] = 12 i + 4 j + k
  const expected = [];
  for (let k = 0; k < 4; k++) for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) expected.push(12 * i + 4 * j + k);
  assert.deepEqual([...t.data()], expected);
  assert.equal(t.name, 'w.T201');
  const s = foldedWeight(g, w.slice(1, 1, 3).reshape([2, 8]))!;
  assert.deepEqual([...s.data()], [4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23]);
  assert.equal(s.name, 'w[axis1:1:3].reshape(2x8)');
  const m = g.param('m', iota(70 * 65), [70, 65]);
  const mt = foldedWeight(g, m.transpose([1, 0]))!.data();
  for (const [r, c] of [
    [0, 0],
    [64, 69],
    [13, 50],
    [40, 3],
  ] as const)
    assert.equal(mt[r * 70 + c], c * 65 + r);
  const x = g.input('x', 'float32', [2, 3]);
  assert.equal(foldedWeight(g, x.transpose([1, 0])), undefined, 'a computed value is not a weight');
});

test('row slices of a weight ask its source for just their elements (q/k/v of a packed in_proj)', () => {
  const g = new Graph();
  const asked: (readonly [number, number] | undefined)[] = [];
  const values = iota(6 * 4);
  const w = g.param(
    'in_proj',
    (_scratch, range) => {
      asked.push(range);
      return range ? values.subarray(...range) : values;
    },
    [6, 4],
  );
  const k = foldedWeight(g, w.slice(0, 2, 4).reshape([8]));
  assert.ok(k);
  assert.deepEqual([...k.data()], [8, 9, 10, 11, 12, 13, 14, 15]);
  assert.deepEqual(asked, [[8, 16]]);
  const kt = foldedWeight(g, w.slice(0, 2, 4).transpose([1, 0]));
  assert.ok(kt);
  assert.deepEqual([...kt.data()], [8, 12, 9, 13, 10, 14, 11, 15]);
  assert.deepEqual(asked.at(-1), [8, 16], 'a transpose of a row slice converts only those rows too');
});

test('linear layers serialise as FusedMatMul over the stored weight, with the same results', async () => {
  const g = new Graph();
  const x = g.input('x', 'float32', ['batch', 2, 3]);
  const packed = g.param(
    'packed',
    Float32Array.from({ length: 8 * 3 }, (_, i) => Math.sin(i)),
    [8, 3],
  );
  // Two slices of one packed weight (like nn.MultiheadAttention's in_proj), each used transposed.
  const y = linear(x, packed.slice(0, 0, 4)).add(linear(x, packed.slice(0, 4, 8)));
  g.output('y', y);
  const model = onnxProto.onnx.ModelProto.decode(toOnnx(g));
  const ops = model.graph!.node!.map((n) => n.opType);
  assert.deepEqual(ops.filter((o) => o === 'FusedMatMul').length, 2);
  assert.ok(!ops.includes('Transpose') && !ops.includes('Slice'), `ops: ${ops.join(', ')}`);
  assert.deepEqual(model.graph!.initializer!.map((t) => t.name).sort(), ['packed[0:4]', 'packed[4:8]']);

  const xs = Float32Array.from({ length: 2 * 2 * 3 }, (_, i) => Math.cos(i));
  const session = await Session.create(g);
  const out = (await session.run({ x: { data: xs, shape: [2, 2, 3] } })).y!.data as Float32Array;
  await session.release();
  const w = Float32Array.from({ length: 24 }, (_, i) => Math.sin(i));
  for (let r = 0; r < 4; r++) {
    for (let o = 0; o < 4; o++) {
      let sum = 0;
      for (let k = 0; k < 3; k++) sum += xs[r * 3 + k]! * (w[o * 3 + k]! + w[(o + 4) * 3 + k]!);
      assert.ok(Math.abs(out[r * 4 + o]! - sum) < 1e-5, `row ${r} col ${o}: ${out[r * 4 + o]} vs ${sum}`);
    }
  }
});

test('fuseTransposedWeights: false (the WebGPU form) stores wᵀ, emits plain MatMuls, same results', async () => {
  const g = new Graph();
  const x = g.input('x', 'float32', ['batch', 2, 3]);
  const packed = g.param(
    'packed',
    Float32Array.from({ length: 8 * 3 }, (_, i) => Math.sin(i)),
    [8, 3],
  );
  g.output('y', linear(x, packed.slice(0, 0, 4)).add(linear(x, packed.slice(0, 4, 8))));
  const model = onnxProto.onnx.ModelProto.decode(toOnnx(g, { fuseTransposedWeights: false }));
  const ops = model.graph!.node!.map((n) => n.opType);
  assert.deepEqual(ops.filter((o) => o === 'MatMul').length, 2, `ops: ${ops.join(', ')}`);
  for (const op of ['FusedMatMul', 'Transpose', 'Slice']) assert.ok(!ops.includes(op), `ops: ${ops.join(', ')}`);
  assert.deepEqual(model.graph!.initializer!.map((t) => t.name).sort(), ['packed[0:4].T', 'packed[4:8].T']);

  const xs = { data: Float32Array.from({ length: 2 * 2 * 3 }, (_, i) => Math.cos(i)), shape: [2, 2, 3] };
  const fused = await Session.create(g);
  const expected = (await fused.run({ x: xs })).y!.data as Float32Array;
  await fused.release();
  const session = await ort.InferenceSession.create(toOnnx(g, { fuseTransposedWeights: false }));
  const out = (await session.run({ x: new ort.Tensor('float32', xs.data, xs.shape) })).y!.data as Float32Array;
  await session.release();
  for (let i = 0; i < out.length; i++) {
    assert.ok(Math.abs(out[i]! - expected[i]!) < 1e-6, `${i}: ${out[i]} vs ${expected[i]}`);
  }
});
