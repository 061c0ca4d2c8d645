// Fixture-free training checks on tiny random models (sibling of train-fixtures.test.ts): the
// training graph's gradients against finite differences of its own loss, the running statistics,
// AdamW's first step in closed form, the no-decay rule, the schedule, the clamp, and that a few
// steps on one batch lower the loss.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClipConfig } from '../src/models/config.js';
import { randomStateDict } from '../src/models/random.js';
import { AdamW, openClipDecay } from '../src/train/adamw.js';
import { clipGradNorm } from '../src/train/clip-grad-norm.js';
import { cosineLr } from '../src/train/schedule.js';
import { Trainer, type Batch } from '../src/train/trainer.js';

const text = { kind: 'transformer' as const, width: 32, layers: 1, heads: 1, contextLength: 8, vocabSize: 50 };
const VIT: ClipConfig = {
  embedDim: 16,
  vision: { kind: 'vit', width: 32, layers: 1, heads: 2, patchSize: 8, imageResolution: 16 },
  text,
  activation: 'quick_gelu',
};
const RN: ClipConfig = {
  embedDim: 16,
  vision: { kind: 'resnet', width: 8, layers: [1, 1, 1, 1], heads: 2, imageResolution: 64 },
  text,
  activation: 'quick_gelu',
};

function noise(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

function batchFor(cfg: ClipConfig, size: number): Batch {
  const R = cfg.vision.imageResolution;
  const L = cfg.text.contextLength;
  const tokens = new Int32Array(size * L);
  // Distinct captions of different lengths, each ending with the highest id (the end token).
  for (let r = 0; r < size; r++) {
    for (let j = 0; j <= r % (L - 1); j++) tokens[r * L + j] = 1 + ((r * 7 + j * 3) % 40);
    tokens[r * L + (r % (L - 1)) + 1] = cfg.text.vocabSize - 1;
  }
  return {
    images: { data: noise(size * 3 * R * R, 5), shape: [size, 3, R, R] },
    tokens: { data: tokens, shape: [size, L] },
  };
}

for (const [name, cfg, probes] of [
  [
    'ViT',
    VIT,
    [
      'logit_scale',
      'visual.proj',
      'visual.class_embedding',
      'visual.ln_post.weight',
      'token_embedding.weight',
      'transformer.resblocks.0.attn.in_proj_weight',
    ],
  ],
  [
    'ResNet',
    RN,
    [
      'logit_scale',
      'visual.attnpool.q_proj.weight',
      'visual.attnpool.c_proj.weight',
      'visual.attnpool.k_proj.weight',
      'visual.attnpool.positional_embedding',
      'positional_embedding',
      'text_projection',
    ],
  ],
] as const) {
  // Probes are parameters where a float32 central difference is well conditioned: ResNet probes
  // sit after the tower's last ReLU, since in a random ReLU network a step crosses many kinks
  // (the difference is then off by a few %), and in its stem the loss's float32 noise swamps it. Every rule those
  // layers use is checked on its own in grad-rules.test.ts, and
  // every gradient against the reference in train-fixtures.test.ts.
  test(`${name}: training-graph gradients match finite differences of the loss`, async () => {
    const trainer = await Trainer.create(randomStateDict(cfg, 3), cfg, { batchSize: 4 });
    try {
      const batch = batchFor(cfg, 4);
      const base = await trainer.computeGradients(batch);
      assert.ok(base.loss > 0 && Number.isFinite(base.loss));
      for (const [k, param] of probes.entries()) {
        const w = trainer.weights.get(param)!.data;
        const original = w.slice();
        const direction = noise(w.length, 100 + k);
        const analytic = base.grads.get(param)!.reduce((s, v, i) => s + v * direction[i]!, 0);
        const lossAt = async (h: number) => {
          w.set(original.map((v, i) => v + h * direction[i]!));
          return (await trainer.computeGradients(batch)).loss;
        };
        // Central difference in float32 with a step of 1e-3 of the weights' scale (at least 1e-4):
        // truncation O(h²) stays within 2e-3 relative, and the loss (≈ 2, an ulp 2.4e-7) rounds
        // to within ~1e-6, which the difference divides by 2h.
        const rms = Math.sqrt(original.reduce((s, v) => s + v * v, 0) / original.length);
        const h = 1e-3 * Math.max(rms, 0.1);
        const fd = ((await lossAt(h)) - (await lossAt(-h))) / (2 * h);
        w.set(original);
        const tol = 2e-3 * Math.abs(analytic) + 1e-6 / h;
        assert.ok(Math.abs(fd - analytic) <= tol, `${param}: finite difference ${fd} vs analytic ${analytic}`);
        assert.ok(Math.abs(analytic) > 10 * tol, `${param}: the probe must have a gradient to check (${analytic})`);
      }
      if (cfg.vision.kind === 'resnet') {
        // bn1 sees the conv1 output; its running mean moves 10% of the way to the batch mean.
        assert.equal(base.buffersAfter.size, 2 * 3 + 4 * 2 * 4);
        const runningVar = base.buffersAfter.get('visual.bn1.running_var')!;
        assert.ok(
          runningVar.every((v) => v > 0 && v !== 1),
          'running_var moved from its initial 1',
        );
      }
    } finally {
      await trainer.release();
    }
  });
}

test('a few steps on one batch lower the loss, logit_scale clamps at ln 100, BatchNorm counts batches', async () => {
  const sd = randomStateDict(RN, 4);
  const trainer = await Trainer.create(sd, RN, {
    batchSize: 4,
    lr: 2e-3,
    optimizer: { betas: [0.9, 0.98], eps: 1e-6, weightDecay: 0.1 },
  });
  try {
    const batch = batchFor(RN, 4);
    const first = await trainer.trainStep(batch);
    let last = first.loss;
    for (let i = 0; i < 4; i++) last = (await trainer.trainStep(batch)).loss;
    assert.ok(last < first.loss - 0.05, `loss ${first.loss} → ${last}`);
    assert.equal(trainer.step, 5);
    trainer.weights.get('logit_scale')!.data[0] = 4.7;
    await trainer.trainStep(batch);
    assert.ok(trainer.weights.get('logit_scale')!.data[0]! <= Math.log(100) + 1e-7);
    const counts = trainer.currentStateDict();
    const bn = [...counts.entries()].find(([k]) => k.endsWith('running_var'))!;
    assert.notDeepEqual(bn[1].bytes, sd.get(bn[0])!.bytes, 'running stats in the state dict are the trained ones');
  } finally {
    await trainer.release();
  }
});

test('AdamW first step: p·(1 − lr·wd) − lr·g/(|g| + eps), decay only where the rule says', () => {
  const lr = 0.01;
  const opt = new AdamW({ betas: [0.9, 0.98], eps: 1e-6, weightDecay: 0.5 });
  const w = { data: Float32Array.of(1, -2, 0.5), shape: [3, 1] };
  const b = { data: Float32Array.of(1, 1), shape: [2] };
  const g = Float32Array.of(0.3, -4, 0);
  opt.step(
    new Map([
      ['layer.weight', w],
      ['layer.bias', b],
    ]),
    new Map([
      ['layer.weight', g],
      ['layer.bias', Float32Array.of(2, -1e-9)],
    ]),
    lr,
  );
  // m = 0.1 g, v = 0.02 g²: m / (1 − 0.9) / (√v / √(1 − 0.98) + eps) = g / (|g| + eps).
  [1, -2, 0.5].forEach((p, i) =>
    assert.ok(
      Math.abs(w.data[i]! - (p * (1 - lr * 0.5) - (lr * g[i]!) / (Math.abs(g[i]!) + 1e-6))) < 1e-6,
      `weight[${i}] = ${w.data[i]}`,
    ),
  );
  assert.ok(Math.abs(b.data[0]! - (1 - lr)) < 1e-6, 'bias: no decay');
  assert.ok(Math.abs(b.data[1]! - (1 + (lr * 1e-9) / (1e-9 + 1e-6))) < 1e-6, 'tiny gradient: eps dominates');
  assert.equal(opt.state.step, 1);
  assert.deepEqual(
    [
      'visual.conv1.weight',
      'visual.bn1.weight',
      'ln_final.weight',
      'logit_scale',
      'visual.class_embedding',
      'token_embedding.weight',
      'visual.layer1.0.bn1.bias',
    ].map((n) =>
      openClipDecay(
        n,
        n.includes('class') || n.endsWith('bias') || n.includes('bn1.weight') || n.includes('ln_final')
          ? [8]
          : n === 'logit_scale'
            ? []
            : [8, 8],
      ),
    ),
    [true, false, false, false, false, true, false],
  );
});

test(
  "AdamW over several steps equals torch's float32 update written out in scalar code, bit for bit, at any " + 'length',
  () => {
    // The kernel updates 4 lanes at a time in 16384-float chunks: lengths around those edges.
    const f = Math.fround;
    const [lr, wd, b1, b2, eps] = [3e-3, 0.1, 0.9, 0.98, 1e-6];
    for (const length of [1, 3, 4, 5, 16383, 16384, 16385, 40000]) {
      let seed = length;
      const rand = () => f(((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5) * 2);
      const w = { data: Float32Array.from({ length }, rand), shape: [length, 1] };
      const expected = w.data.slice();
      const m = new Float32Array(length);
      const v = new Float32Array(length);
      const opt = new AdamW({ betas: [b1, b2], eps, weightDecay: wd, decay: () => true });
      for (let step = 1; step <= 3; step++) {
        const g = Float32Array.from({ length }, rand);
        opt.step(new Map([['p', w]]), new Map([['p', g]]), lr);
        // torch.optim.AdamW (single-tensor): each operation rounded to float32.
        const stepSize = f(-(lr / (1 - b1 ** step)));
        const bc2Sqrt = f(Math.sqrt(1 - b2 ** step));
        for (let i = 0; i < length; i++) {
          expected[i] = f(expected[i]! * f(1 - lr * wd));
          m[i] = f(f(m[i]! * f(b1)) + f(g[i]! * f(1 - b1)));
          v[i] = f(f(v[i]! * f(b2)) + f(f(g[i]! * g[i]!) * f(1 - b2)));
          expected[i] = f(expected[i]! + f(stepSize * f(m[i]! / f(f(f(Math.sqrt(v[i]!)) / bc2Sqrt) + f(eps)))));
        }
      }
      const differing = expected.findIndex((x, i) => !Object.is(x, w.data[i]));
      assert.equal(
        differing,
        -1,
        `length ${length}: element ${differing} is ${w.data[differing]}, expected ${expected[differing]}`,
      );
      assert.deepEqual([opt.state.expAvg.get('p'), opt.state.expAvgSq.get('p')], [m, v]);
    }
  },
);

test('cosine schedule with warm-up, and gradient clipping by global norm', () => {
  const s = { baseLr: 1, warmup: 10, totalSteps: 110 };
  assert.equal(cosineLr(s, 0), 0.1);
  assert.equal(cosineLr(s, 9), 1);
  assert.equal(cosineLr(s, 10), 1);
  assert.ok(Math.abs(cosineLr(s, 60) - 0.5) < 1e-12);
  assert.ok(cosineLr(s, 110) < 1e-12);
  const a = Float32Array.of(3, 0);
  const b = Float32Array.of(4);
  assert.equal(clipGradNorm([a, b], 1), 5);
  assert.ok(Math.abs(Math.hypot(a[0]!, b[0]!) - 1) < 1e-6);
  assert.equal(clipGradNorm([Float32Array.of(0.5)], 1), 0.5);
});

test("the text tower cut after the batch's last end token gives the full context's loss and gradients", async () => {
  const sd = randomStateDict(VIT, 7);
  const batch = batchFor(VIT, 4); // end tokens at positions 1..4 of 8: the cut runs 5 positions
  const cut = await Trainer.create(sd, VIT, { batchSize: 4 });
  const full = await Trainer.create(sd, VIT, { batchSize: 4, trimPadding: false });
  try {
    const [a, b] = [await cut.computeGradients(batch), await full.computeGradients(batch)];
    assert.ok(Math.abs(a.loss - b.loss) <= 1e-6 * Math.abs(b.loss), `loss ${a.loss} vs ${b.loss}`);
    for (const [name, gb] of b.grads) {
      const ga = a.grads.get(name)!;
      const scale = gb.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      // Shorter reductions over positions (attention, sums over rows): float32 rounding only.
      gb.forEach((v, i) => assert.ok(Math.abs(v - ga[i]!) <= 1e-5 * scale + 1e-9, `${name}[${i}]: ${ga[i]} vs ${v}`));
    }
    // Positions 5..7 take part in no output: zero gradient either way (the cut one is padded back).
    const width = VIT.text.width;
    assert.ok(
      b.grads
        .get('positional_embedding')!
        .subarray(5 * width)
        .every((v) => v === 0),
    );
    assert.ok(
      a.grads
        .get('positional_embedding')!
        .subarray(5 * width)
        .every((v) => v === 0),
    );
    assert.ok(
      a.grads
        .get('positional_embedding')!
        .subarray(4 * width, 5 * width)
        .some((v) => v !== 0),
    );
    // Tokens must still come at the model's context length (the cut is the trainer's business).
    const short = { ...batch, tokens: { data: batch.tokens.data.slice(0, 4 * 5), shape: [4, 5] } };
    await assert.rejects(cut.computeGradients(short), /batch tokens must be \[4, 8\].*got \[4, 5\]/);
  } finally {
    await Promise.all([cut.release(), full.release()]);
  }
});

test(
  "gradient accumulation over micro-batches gives the full batch's loss and gradients; a frozen tower gets " + 'none',
  async () => {
    const sd = randomStateDict(VIT, 6);
    const batch = batchFor(VIT, 4);
    const full = await Trainer.create(sd, VIT, { batchSize: 4 });
    const micro = await Trainer.create(sd, VIT, { batchSize: 4, microBatch: 2 });
    const frozen = await Trainer.create(sd, VIT, { batchSize: 4, freeze: { image: true } });
    try {
      const [a, b, c] = [
        await full.computeGradients(batch),
        await micro.computeGradients(batch),
        await frozen.computeGradients(batch),
      ];
      assert.ok(Math.abs(a.loss - b.loss) < 1e-6, `loss ${a.loss} vs ${b.loss}`);
      assert.deepEqual([...b.grads.keys()], [...a.grads.keys()]);
      for (const [name, ga] of a.grads) {
        const gb = b.grads.get(name)!;
        const scale = ga.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        // Same arithmetic up to the order of summation over the two halves: float32 rounding only.
        ga.forEach((v, i) => assert.ok(Math.abs(v - gb[i]!) <= 1e-5 * scale + 1e-9, `${name}[${i}]: ${v} vs ${gb[i]}`));
      }
      assert.ok(
        frozen.params.length > 0 && frozen.params.every((n) => !n.startsWith('visual.')),
        'only text-side parameters are trained',
      );
      for (const name of frozen.params) {
        const ga = a.grads.get(name)!;
        // A different graph (no image gradients), so ONNX Runtime may sum in another order: float32
        // rounding relative to the tensor's largest gradient, as above.
        const scale = ga.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        c.grads
          .get(name)!
          .forEach((v, i) =>
            assert.ok(
              Math.abs(v - ga[i]!) <= 1e-5 * scale + 1e-9,
              `${name}[${i}] with the image tower frozen: ${v} vs ${ga[i]}`,
            ),
          );
      }
    } finally {
      await Promise.all([full.release(), micro.release(), frozen.release()]);
    }
  },
);
