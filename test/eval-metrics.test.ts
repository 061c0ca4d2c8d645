// Evaluation metrics on cases small enough to work out by hand: a 3-class confusion matrix,
// top-5 with ties, retrieval ranks with several captions per image, the median rank, and the
// logistic regression against the optimum of a problem solvable on paper.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fitLinearProbe } from '../src/eval/linear-probe.js';
import { fitLogistic, logisticScores } from '../src/train/index.js';
import { interpolateStateDicts } from '../src/eval/merge.js';
import { classificationMetrics, recallMetrics, retrievalRanks } from '../src/metrics.js';
import { encodeNpy } from '../src/npy.js';
import { fromFloat32, toFloat32, type RawTensor } from '../src/tensor.js';

test('classificationMetrics: a 3-class set whose confusion matrix is worked out by hand', () => {
  const classes = ['cat', 'dog', 'bird'];
  // Scores per row (cat, dog, bird) and the true class:
  const rows: [number[], number][] = [
    [[0.9, 0.05, 0.05], 0], // cat → cat ✓
    [[0.6, 0.3, 0.1], 0], //   cat → cat ✓
    [[0.2, 0.7, 0.1], 0], //   cat → dog ✗
    [[0.1, 0.8, 0.1], 1], //   dog → dog ✓
    [[0.5, 0.4, 0.1], 1], //   dog → cat ✗
    [[0.3, 0.3, 0.4], 2], //   bird → bird ✓
  ];
  const m = classificationMetrics(
    Float32Array.from(rows.flatMap((r) => r[0])),
    rows.map((r) => r[1]),
    classes,
  );
  assert.deepEqual(m.confusion, [
    [2, 1, 0],
    [1, 1, 0],
    [0, 0, 1],
  ]);
  assert.equal(m.top1, 4 / 6);
  assert.equal(m.top5, 1, 'three classes: every label is within the top 5');
  assert.deepEqual(m.per_class, {
    cat: { accuracy: 2 / 3, n: 3 },
    dog: { accuracy: 1 / 2, n: 2 },
    bird: { accuracy: 1, n: 1 },
  });
  assert.equal(m.mean_per_class, (2 / 3 + 1 / 2 + 1) / 3);
  assert.equal(m.n, 6);
});

// Ties go to the first class, top-5 counts ranks among 7 classes, absent classes have no accuracy.
test('classificationMetrics: ties, top-5 among 7 classes, a class without images', () => {
  const classes = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
  const scores = Float32Array.from([
    1,
    1,
    0,
    0,
    0,
    0,
    0, // label b ties with a: a comes first, so b is predicted second → top-1 wrong, top-5 right
    7,
    6,
    5,
    4,
    3,
    2,
    1, // label f ranks 6th → outside the top 5
  ]);
  const m = classificationMetrics(scores, [1, 5], classes);
  assert.equal(m.top1, 0);
  assert.equal(m.top5, 1 / 2);
  assert.deepEqual(m.confusion[1], [1, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(m.per_class.c, { accuracy: null, n: 0 });
  assert.equal(m.mean_per_class, 0, 'mean over the two classes present (b and f), both 0');
  assert.throws(
    () => classificationMetrics(new Float32Array(5), [0], ['x', 'y']),
    /5 values, expected 1 rows × 2 classes/,
  );
});

test('retrievalRanks: an image with two captions is found by its better one; text→image ranks by column', () => {
  // 2 images × 3 texts; texts 0 and 1 describe image 0, text 2 describes image 1.
  const sim = Float32Array.from([
    0.1,
    0.8,
    0.9, // image 0: text 2 (not its own) is best, its caption 1 is second → rank 1
    0.5,
    0.2,
    0.4, // image 1: texts 0 beats its caption 2 → rank 1
  ]);
  const r = retrievalRanks(sim, 2, [0, 0, 1]);
  assert.deepEqual(r.imageToText, [1, 1]);
  // Text 0: image 1 (0.5) beats image 0 (0.1) → 1; text 1: image 0 best → 0;
  // text 2: image 0 (0.9) beats image 1 → 1.
  assert.deepEqual(r.textToImage, [1, 0, 1]);
  assert.deepEqual(recallMetrics(r.textToImage), { 'R@1': 1 / 3, 'R@5': 1, 'R@10': 1, median_rank: 2 });
  assert.equal(recallMetrics([0, 3, 1, 9]).median_rank, 3, '1-based ranks 1, 2, 4, 10: the mean of the middle two');
  // Equal scores (duplicate captions) do not rank above a match, either way.
  assert.deepEqual(retrievalRanks(Float32Array.from([0.5, 0.5, 0.5, 0.5]), 2, [0, 1]), {
    imageToText: [0, 0],
    textToImage: [0, 0],
  });
  assert.throws(() => retrievalRanks(new Float32Array(3), 2, [0]), /expected 2 × 1/);
  assert.throws(() => retrievalRanks(new Float32Array(2), 2, [0]), /image 1 has no caption/);
});

test('fitLogistic: two points ±1 reach the optimum derived on paper', async () => {
  // Classes 0 at x = -1 and 1 at x = +1. By symmetry the intercepts are equal and w0 = -w1 = -d/2;
  // the objective is log(1 + e^-d) + d²/(8C), whose minimum solves d/(4C) = 1/(1 + e^d).
  const C = 1;
  let [lo, hi] = [0, 10];
  for (let i = 0; i < 100; i++) {
    const d = (lo + hi) / 2;
    if (d / (4 * C) < 1 / (1 + Math.exp(d))) lo = d;
    else hi = d;
  }
  const fit = await fitLogistic(
    { x: Float32Array.from([-1, 1]), y: [0, 1], dim: 1, classes: 2 },
    { C, tolerance: 1e-6 },
  );
  assert.ok(fit.converged);
  const [w0, b0, w1, b1] = fit.model.weights;
  // The data term is float32 (ONNX Runtime): the optimum is resolved to ~1e-5.
  assert.ok(Math.abs(w1! - w0! - lo) < 1e-4, `w1 - w0 = ${w1! - w0!}, paper: ${lo}`);
  assert.ok(Math.abs(w0! + w1!) < 1e-4 && Math.abs(b0! - b1!) < 1e-4, 'symmetric solution');
  const scores = logisticScores(fit.model, Float32Array.from([-1, 1]));
  assert.ok(scores[0]! > scores[1]! && scores[3]! > scores[2]!);
});

test('fitLinearProbe: sweeps C on a held-out part and separates three Gaussian blobs', async () => {
  let seed = 1;
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const centres = [
    [3, 0],
    [-3, 0],
    [0, 3],
  ];
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < 150; i++) {
    const c = i % 3;
    y.push(c);
    x.push(centres[c]![0]! + random() - 0.5, centres[c]![1]! + random() - 0.5);
  }
  const fit = await fitLinearProbe({ x: Float32Array.from(x), y, dim: 2, classes: 3 }, { maxIterations: 200 });
  assert.equal(fit.validationRows, 30, 'every 5th of 150');
  assert.equal(fit.sweep.length >= 7, true, 'the coarse grid at least');
  assert.ok(fit.sweep.some((p) => p.C === fit.C));
  const scores = logisticScores(fit.model, Float32Array.from(x));
  const m = classificationMetrics(scores, y, ['a', 'b', 'c']);
  assert.equal(m.top1, 1);
});

test('encodeNpy: a header numpy reads (64-byte aligned) and the raw little-endian data', () => {
  const dir = mkdtempSync(join(tmpdir(), 'clip-npy-'));
  try {
    writeFileSync(join(dir, 'x.npy'), encodeNpy(Float32Array.from([1, 2, 3, 4, 5, 6]), 'float32', [2, 3]));
    const bytes = readFileSync(join(dir, 'x.npy'));
    assert.equal(bytes.subarray(0, 6).toString('latin1'), '\x93NUMPY');
    const headerLength = bytes.readUInt16LE(8);
    assert.equal((10 + headerLength) % 64, 0);
    assert.match(
      bytes.subarray(10, 10 + headerLength).toString('latin1'),
      /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(2, 3\), \} *\n$/,
    );
    const data = Uint8Array.from(bytes.subarray(10 + headerLength));
    assert.deepEqual([...new Float32Array(data.buffer)], [1, 2, 3, 4, 5, 6]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('interpolateStateDicts: (1 - α)·a + α·b on floats, integer buffers kept, mismatches refused', () => {
  const int64 = (v: bigint): RawTensor => ({
    dtype: 'int64',
    shape: [],
    bytes: new Uint8Array(BigInt64Array.from([v]).buffer),
  });
  const a = new Map([
    ['w', fromFloat32(Float32Array.from([0, 2]), [2])],
    ['n', int64(7n)],
  ]);
  const b = new Map([
    ['w', fromFloat32(Float32Array.from([4, 6]), [2])],
    ['n', int64(7n)],
  ]);
  const merged = interpolateStateDicts(a, b, 0.25);
  assert.deepEqual([...toFloat32(merged.get('w')!)], [1, 3]);
  assert.equal(merged.get('n'), a.get('n'));
  assert.throws(() => interpolateStateDicts(a, new Map([['w', b.get('w')!]]), 0.5), /differ in tensors: n/);
  assert.throws(
    () => interpolateStateDicts(a, new Map([...b, ['n', int64(8n)]]), 0.5),
    /non-float tensor \(int64\) differs/,
  );
  assert.throws(() => interpolateStateDicts(a, b, 1.5), /within \[0, 1\]/);
});
