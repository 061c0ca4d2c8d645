// Finite-difference checks of every vector-Jacobian rule (graph/vjp.ts) and of composites built
// from them. Each case builds y = f(inputs) and the scalar loss L = Σ y·R (R a fixed pseudo-random
// weighting), then compares, for a random direction d per input, the analytic directional
// derivative <∂L/∂x, d> with the central difference (L(x + h·d) − L(x − h·d)) / 2h.
//
// Tolerance: ONNX Runtime's CPU kernels for Conv, Erf and pooling exist only in float32, so every
// check runs in float32. With h = 1e-2 the difference's rounding error is about
// 2⁻²⁴·Σ|y·R| / h ≈ 1e-5·Σ|y·R| and the truncation error h²/6·|L'''| is of order 1e-5 for these
// smooth, O(1) functions; we accept |fd − analytic| ≤ 2e-3·(|analytic| + Σ|y·R|/100 + 1e-2),
// far below what a wrong rule gives (a dropped term or a wrong sign is an O(1) relative error,
// and each case also checks that the wrong answer "0" would fail).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { grad } from '../src/graph/grad.js';
import { concat, Graph, type Value } from '../src/graph/ir.js';
import { batchNorm2dTrain, runningStatUpdates } from '../src/graph/nn-train.js';
import { gelu, layerNorm, linear, multiHeadAttention, quickGelu } from '../src/graph/nn.js';
import { Session } from '../src/runtime/session.js';

/** Deterministic values in [-1, 1). */
function noise(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

interface Case {
  /** float32 inputs to differentiate: shape and (optionally) values; default noise. */
  inputs: Record<string, { shape: number[]; data?: Float32Array }>;
  build: (x: Record<string, Value>, g: Graph) => Value;
}

async function checkGradients(name: string, c: Case): Promise<void> {
  const g = new Graph();
  const xs: Record<string, Value> = {};
  const feeds: Record<string, { data: Float32Array; shape: number[] }> = {};
  Object.entries(c.inputs).forEach(([k, spec], i) => {
    xs[k] = g.input(k, 'float32', spec.shape);
    feeds[k] = {
      data:
        spec.data ??
        noise(
          spec.shape.reduce((a, b) => a * b, 1),
          17 + i,
        ),
      shape: spec.shape,
    };
  });
  const y = c.build(xs, g);
  const shape = y.shape as number[];
  const weights = g.constant(
    noise(
      shape.reduce((a, b) => a * b, 1),
      99,
    ),
    shape,
  );
  const weighted = y.mul(weights);
  const loss = weighted.sum([...shape.keys()], false);
  g.output('loss', loss);
  g.output('scale', weighted.pow(2).sum([...shape.keys()], false)); // Σ(y·R)², a size for the tolerance
  const names = Object.keys(xs);
  grad(
    g,
    loss,
    names.map((k) => xs[k]!),
  ).forEach((gx, i) => g.output(`grad.${names[i]}`, gx));

  const session = await Session.create(g);
  try {
    const base = await session.run(feeds);
    const scale = Math.sqrt(Number(base.scale!.data[0])) * Math.sqrt(shape.reduce((a, b) => a * b, 1));
    const h = 1e-2;
    for (const [k, i] of names.map((n, j) => [n, j] as const)) {
      const direction = noise(feeds[k]!.data.length, 1000 + i);
      const analyticGrad = base[`grad.${k}`]!.data as Float32Array;
      assert.deepEqual(base[`grad.${k}`]!.shape, feeds[k]!.shape, `${name}: gradient of ${k} has the input's shape`);
      const analytic = analyticGrad.reduce((s, v, j) => s + v * direction[j]!, 0);
      const shifted = async (sign: number) => {
        const data = feeds[k]!.data.map((v, j) => v + sign * h * direction[j]!);
        return Number((await session.run({ ...feeds, [k]: { data, shape: feeds[k]!.shape } }, ['loss'])).loss!.data[0]);
      };
      const fd = ((await shifted(1)) - (await shifted(-1))) / (2 * h);
      const tol = 2e-3 * (Math.abs(analytic) + scale / 100 + 1e-2);
      assert.ok(
        Math.abs(fd - analytic) <= tol,
        `${name}: d/d${k}: finite difference ${fd} vs analytic ${analytic} (tolerance ${tol})`,
      );
      assert.ok(
        Math.abs(fd) > tol,
        `${name}: d/d${k}: the check must be able to fail (finite difference ${fd} is within ${tol} of 0)`,
      );
    }
  } finally {
    await session.release();
  }
}

const positive = (n: number, seed: number) => noise(n, seed).map((v) => 1.5 + v);
/** Values at least 0.1 away from 0 (ReLU's kink) and from each other within a row (max ties). */
const spread = (n: number) =>
  Float32Array.from({ length: n }, (_, i) => (((i * 7) % n) / n) * 2 - 1 + 0.5 / n).map((v) =>
    Math.abs(v) < 0.1 ? v + 0.2 : v,
  );

const cases: Record<string, Case> = {
  'add/sub with broadcasting': {
    inputs: { a: { shape: [2, 3, 4] }, b: { shape: [3, 1] } },
    build: ({ a, b }) => a!.add(b!).sub(b!.mul(b!)).sub(a!).add(a!.mul(a!)),
  },
  'mul/div with broadcasting': {
    inputs: { a: { shape: [2, 3, 4] }, b: { shape: [4], data: positive(4, 3) } },
    build: ({ a, b }) => a!.mul(b!).div(b!.add(a!.mul(a!))),
  },
  'pow, neg, exp, log, sqrt': {
    inputs: { x: { shape: [3, 4], data: positive(12, 5) } },
    build: ({ x }) => concat([x!.pow(2), x!.pow(3), x!.neg().exp(), x!.log(), x!.sqrt()], 0),
  },
  'sigmoid, relu, erf, cast': {
    inputs: { x: { shape: [4, 5], data: spread(20) } },
    build: ({ x }) => concat([x!.sigmoid(), x!.relu(), x!.erf(), x!.cast('float32')], 1),
  },
  'sum, mean (keepDims or not)': {
    inputs: { x: { shape: [2, 3, 4] } },
    build: ({ x }) =>
      x!
        .sum([1], false)
        .sum([0], true)
        .add(
          x!
            .mean([0, 2], true)
            .reshape([3, 1])
            .mul(x!.sum([0], false)),
        ),
  },
  max: { inputs: { x: { shape: [3, 5], data: spread(15) } }, build: ({ x }) => x!.max([1]).mul(x!) },
  'softmax and log-softmax': {
    inputs: { x: { shape: [3, 5] } },
    build: ({ x }, g) =>
      x!
        .mul(3)
        .softmax(-1)
        .add(g.op('LogSoftmax', [x!.mul(2)], { axis: 0 })[0]!),
  },
  'matmul: batched, broadcast, linear': {
    inputs: { a: { shape: [2, 3, 4] }, b: { shape: [2, 4, 5] }, w: { shape: [5, 4] }, m: { shape: [3, 4] } },
    build: ({ a, b, w, m }) => a!.matmul(b!).add(linear(a!, w!)).add(m!.matmul(b!)),
  },
  'reshape, transpose, slice, concat, expand': {
    inputs: { x: { shape: [2, 3, 4] }, y: { shape: [1, 4] } },
    build: ({ x, y }) => concat([x!.transpose([0, 2, 1]).reshape([2, 12]).slice(1, 2, 9), y!.expand([2, 4])], 1),
  },
  'gather (repeated rows) and pickPerRow': {
    inputs: { table: { shape: [6, 3] } },
    build: ({ table }, g) => {
      const ids = g.constant(Int32Array.of(4, 1, 4, 0, 5, 4), [2, 3]);
      const rows = table!.gather(ids); // [2, 3, 3]
      const at = g.constant(BigInt64Array.of(2n, 0n), [2]);
      return rows.pickPerRow(at).add(rows.sum([1], false));
    },
  },
  'sliceAs (a positional table cut to a sequence length)': {
    inputs: { table: { shape: [6, 3] }, x: { shape: [2, 4, 3] } },
    build: ({ table, x }) => x!.add(table!.sliceAs(0, x!, 1)),
  },
  'conv: 3×3 pad 1, with bias': {
    inputs: { x: { shape: [2, 3, 5, 5] }, w: { shape: [4, 3, 3, 3] }, b: { shape: [4] } },
    build: ({ x, w, b }) => x!.conv2d(w!, { padding: 1, bias: b! }),
  },
  'conv: 3×3 stride 2 pad 1 on an odd size': {
    inputs: { x: { shape: [2, 2, 7, 7] }, w: { shape: [3, 2, 3, 3] } },
    build: ({ x, w }) => x!.conv2d(w!, { stride: 2, padding: 1 }),
  },
  'conv: patches (stride = kernel)': {
    inputs: { x: { shape: [2, 3, 8, 8] }, w: { shape: [5, 3, 4, 4] } },
    build: ({ x, w }) => x!.conv2d(w!, { stride: 4 }),
  },
  'conv: 1×1': {
    inputs: { x: { shape: [2, 4, 3, 3] }, w: { shape: [6, 4, 1, 1] } },
    build: ({ x, w }) => x!.conv2d(w!),
  },
  'average pool with a remainder': {
    inputs: { x: { shape: [2, 3, 5, 5] } },
    build: ({ x }) => x!.avgPool2d(2).mul(x!.avgPool2d(2)),
  },
  'layerNorm, quickGelu, gelu': {
    inputs: { x: { shape: [2, 3, 6] }, w: { shape: [6] }, b: { shape: [6] } },
    build: ({ x, w, b }) => quickGelu(layerNorm(x!, w!, b!)).add(gelu(x!)),
  },
  'train-mode batchNorm2d and its running statistics': {
    inputs: { x: { shape: [3, 2, 3, 3] }, w: { shape: [2] }, b: { shape: [2] } },
    build: ({ x, w, b }, g) => {
      const stats = {
        runningMean: g.constant(Float32Array.of(0.5, -1), [2]),
        runningVar: g.constant(Float32Array.of(2, 0.5), [2]),
      };
      const y = batchNorm2dTrain(x!, { weight: w!, bias: b!, ...stats });
      assert.equal(runningStatUpdates(g).length, 2);
      return y;
    },
  },
  'causal multi-head attention': {
    inputs: {
      x: { shape: [2, 4, 8] },
      wq: { shape: [8, 8] },
      wk: { shape: [8, 8] },
      wv: { shape: [8, 8] },
      wo: { shape: [8, 8] },
      bq: { shape: [8] },
    },
    build: ({ x, wq, wk, wv, wo, bq }, g) => {
      const mask = new Float32Array(16);
      for (let i = 0; i < 4; i++) for (let j = i + 1; j < 4; j++) mask[i * 4 + j] = -Infinity;
      const zero = g.constant(new Float32Array(8), [8]);
      return multiHeadAttention(
        x!,
        x!,
        {
          q: { weight: wq!, bias: bq! },
          k: { weight: wk!, bias: zero },
          v: { weight: wv!, bias: zero },
          out: { weight: wo!, bias: zero },
        },
        2,
        g.constant(mask, [4, 4]),
      );
    },
  },
};

for (const [name, c] of Object.entries(cases))
  test(`gradient of ${name} matches finite differences`, () => checkGradients(name, c));

test('train-mode batchNorm2d updates running statistics as torch does (momentum 0.1, unbiased variance)', async () => {
  const g = new Graph();
  const x = g.input('x', 'float32', [2, 1, 1, 2]);
  const stats = { runningMean: g.constant(Float32Array.of(1), [1]), runningVar: g.constant(Float32Array.of(2), [1]) };
  g.output(
    'y',
    batchNorm2dTrain(x, {
      weight: g.constant(Float32Array.of(1), [1]),
      bias: g.constant(Float32Array.of(0), [1]),
      ...stats,
    }),
  );
  const [mean, variance] = runningStatUpdates(g);
  g.output('mean', mean!.updated);
  g.output('var', variance!.updated);
  const s = await Session.create(g);
  const out = await s.run({ x: { data: Float32Array.of(1, 2, 3, 6), shape: [2, 1, 1, 2] } });
  await s.release();
  // batch mean 3, biased variance (4+1+0+9)/4 = 3.5, unbiased 14/3.
  assert.ok(Math.abs(Number(out.mean!.data[0]) - (0.9 * 1 + 0.1 * 3)) < 1e-6);
  assert.ok(Math.abs(Number(out.var!.data[0]) - (0.9 * 2 + (0.1 * 14) / 3)) < 1e-6);
  assert.ok(Math.abs(Number(out.y!.data[0]) - (1 - 3) / Math.sqrt(3.5 + 1e-5)) < 1e-5);
});

test('grad refuses a loss with more than one element; integer paths carry no gradient', () => {
  const g = new Graph();
  const x = g.input('x', 'float32', [3]);
  assert.throws(() => grad(g, x.mul(2), [x]), /one element/);
  const y = x.argmax(0).cast('float32').mul(x).sum([0], false);
  assert.deepEqual(grad(g, y, [x])[0]!.shape, [3]); // argmax carries no gradient; Mul's does
});
