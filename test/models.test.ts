// Config inference and the model towers on random-weight models (no fixtures): the reference
// build_model rules, clear errors for non-CLIP state dicts, and properties the architecture
// guarantees (batch independence, causal masking, logits = exp(scale) · cosine).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, InputError } from '../src/errors.js';
import { buildImageGraph, buildTextGraph } from '../src/models/clip.js';
import { CLIP } from '../src/inference/clip.js';
import { lengthBuckets, trimPadding } from '../src/inference/text-buckets.js';
import { Session } from '../src/runtime/session.js';
import { inferConfigFromStateDict, type ClipConfig } from '../src/models/config.js';
import { OFFICIAL_CONFIGS } from '../src/models/presets.js';
import { randomStateDict } from '../src/models/random.js';
import type { StateDict } from '../src/tensor.js';

/** Names and shapes of every weight of `cfg`, without data (building the graphs enumerates them). */
function shapeOnlyStateDict(cfg: ClipConfig): StateDict {
  const sd: StateDict = new Map();
  const fill = (_key: string, shape: readonly number[]) => ({
    dtype: 'float32' as const,
    shape,
    bytes: new Uint8Array(0),
  });
  buildImageGraph(sd, cfg, { fill });
  buildTextGraph(sd, cfg, { fill });
  return sd;
}

const TINY_VIT: ClipConfig = {
  embedDim: 16,
  vision: { kind: 'vit', width: 64, layers: 2, heads: 1, patchSize: 8, imageResolution: 16 },
  text: { kind: 'transformer', width: 64, layers: 1, heads: 1, contextLength: 8, vocabSize: 50 },
  activation: 'quick_gelu',
};
const TINY_RN: ClipConfig = {
  embedDim: 16,
  vision: { kind: 'resnet', width: 4, layers: [1, 2, 1, 1], heads: 2, imageResolution: 64 },
  text: TINY_VIT.text,
  activation: 'quick_gelu',
};

test('inferConfigFromStateDict recovers every official architecture from its weight shapes', () => {
  for (const [name, cfg] of Object.entries(OFFICIAL_CONFIGS)) {
    assert.deepEqual(inferConfigFromStateDict(shapeOnlyStateDict(cfg)), cfg, name);
  }
});

test('a state dict that is not CLIP fails with the missing key named', () => {
  const sd = shapeOnlyStateDict(TINY_VIT);
  sd.delete('ln_final.weight');
  assert.throws(
    () => inferConfigFromStateDict(sd),
    (e: Error) => e instanceof ConfigError && /missing key "ln_final.weight"/.test(e.message),
  );
  assert.throws(
    () => inferConfigFromStateDict(new Map()),
    /not a CLIP state dict: missing key "visual.layer1.0.conv1.weight"/,
  );
  const odd = shapeOnlyStateDict(TINY_VIT);
  odd.set('visual.positional_embedding', { dtype: 'float32', shape: [6, 64], bytes: new Uint8Array(0) });
  assert.throws(() => inferConfigFromStateDict(odd), /6 positions, expected a square grid plus one/);
});

test('a weight of the wrong shape or dtype is named when the graph is built', () => {
  const sd = randomStateDict(TINY_VIT, 1);
  sd.set('visual.ln_pre.weight', { dtype: 'float32', shape: [63], bytes: new Uint8Array(63 * 4) });
  assert.throws(
    () => buildImageGraph(sd, TINY_VIT),
    (e: Error) =>
      e instanceof ConfigError && /"visual.ln_pre.weight" has shape \[63\], expected \[64\]/.test(e.message),
  );
  sd.set('visual.ln_pre.weight', { dtype: 'int64', shape: [64], bytes: new Uint8Array(64 * 8) });
  assert.throws(
    () => buildImageGraph(sd, TINY_VIT),
    /"visual.ln_pre.weight" has dtype int64, expected a floating-point tensor/,
  );
});

function randomImages(n: number, res: number, seed: number): { data: Float32Array; shape: number[] } {
  return {
    data: Float32Array.from({ length: n * 3 * res * res }, (_, i) => Math.sin(i * 0.37 + seed)),
    shape: [n, 3, res, res],
  };
}

function tokens(rows: number[][], ctx: number): { data: Int32Array; shape: number[] } {
  const data = new Int32Array(rows.length * ctx);
  rows.forEach((r, i) => data.set(r, i * ctx));
  return { data, shape: [rows.length, ctx] };
}

for (const cfg of [TINY_VIT, TINY_RN]) {
  test(`${cfg.vision.kind}: image features do not depend on the rest of the batch`, async () => {
    const model = new CLIP(randomStateDict(cfg, 2));
    const R = cfg.vision.imageResolution;
    const batch = randomImages(3, R, 0);
    const all = await model.encodeImage(batch);
    assert.deepEqual(all.shape, [3, cfg.embedDim]);
    const single = await model.encodeImage({ data: batch.data.slice(3 * R * R, 6 * R * R), shape: [1, 3, R, R] });
    for (let i = 0; i < cfg.embedDim; i++) assert.ok(Math.abs(single.data[i]! - all.data[cfg.embedDim + i]!) < 1e-5);
    await model.release();
  });
}

test('activation "gelu" (open_clip) changes the features; QuickGELU is the default', async () => {
  const sd = randomStateDict(TINY_VIT, 10);
  const images = randomImages(1, 16, 3);
  const quick = await new CLIP(sd, {}, TINY_VIT).encodeImage(images);
  const exact = await new CLIP(sd, {}, { ...TINY_VIT, activation: 'gelu' }).encodeImage(images);
  assert.deepEqual(inferConfigFromStateDict(sd, { activation: 'gelu' }), { ...TINY_VIT, activation: 'gelu' });
  assert.ok(
    quick.data.some((v, i) => Math.abs(v - exact.data[i]!) > 1e-4),
    'GELU and QuickGELU must differ',
  );
});

test('text features: taken at the first highest id, blind to tokens after it (causal mask)', async () => {
  const model = new CLIP(randomStateDict(TINY_VIT, 3));
  const L = TINY_VIT.text.contextLength;
  const f = await model.encodeText(
    tokens(
      [
        [48, 5, 6, 49, 0, 0, 0, 0],
        [48, 5, 6, 49, 7, 8, 9, 1],
        [48, 5, 7, 49, 0, 0, 0, 0],
      ],
      L,
    ),
  );
  const row = (i: number) => Array.from(f.data.subarray(i * 16, i * 16 + 16));
  row(0).forEach((v, i) =>
    assert.ok(Math.abs(v - row(1)[i]!) < 1e-6, 'tokens after the end token changed the feature'),
  );
  assert.ok(
    row(0).some((v, i) => Math.abs(v - row(2)[i]!) > 1e-4),
    'a token before the end token must change the feature',
  );
  await model.release();
});

test('cutting the padding after the last end token gives the same features as the full context', async () => {
  const sd = randomStateDict(TINY_VIT, 6);
  const model = new CLIP(sd);
  const batch = tokens(
    [
      [48, 5, 49],
      [48, 7, 8, 9, 49],
    ],
    8,
  );
  assert.deepEqual(
    trimPadding(batch),
    tokens(
      [
        [48, 5, 49, 0, 0],
        [48, 7, 8, 9, 49],
      ],
      5,
    ),
  );
  const trimmed = await model.encodeText(batch);
  const session = await Session.create(buildTextGraph(sd, TINY_VIT));
  const full = await session.run({ tokens: batch });
  await session.release();
  const fullData = full.text_features!.data as Float32Array;
  trimmed.data.forEach((v, i) => assert.ok(Math.abs(v - fullData[i]!) < 1e-5, `feature ${i}: ${v} vs ${fullData[i]}`));
  await model.release();
});

test('a batch split into length buckets gives the full-context features of every row (within 1e-5)', async () => {
  const sd = randomStateDict(TINY_VIT, 13);
  const model = new CLIP(sd);
  // 20 rows with end tokens (49) at varied positions, so several buckets of different lengths run.
  const rows = Array.from({ length: 20 }, (_, i) => [
    48,
    ...Array.from({ length: (i * 7) % 6 }, (_, j) => 3 + ((i + j) % 40)),
    49,
  ]);
  const batch = tokens(rows, 8);
  assert.ok(lengthBuckets(batch, 'transformer').length >= 3);
  const bucketed = await model.encodeText(batch);
  const session = await Session.create(buildTextGraph(sd, TINY_VIT));
  const full = (await session.run({ tokens: batch })).text_features!.data as Float32Array;
  await session.release();
  bucketed.data.forEach((v, i) => assert.ok(Math.abs(v - full[i]!) < 1e-5, `feature ${i}: ${v} vs ${full[i]}`));
  await model.release();
});

test('forward: logits are exp(logit_scale) times cosine similarity, and transposes of each other', async () => {
  const model = new CLIP(randomStateDict(TINY_VIT, 4));
  const images = randomImages(2, 16, 1);
  const text = tokens(
    [
      [48, 3, 49],
      [48, 4, 4, 49],
      [48, 49],
    ],
    8,
  );
  const { logitsPerImage, logitsPerText } = await model.forward(images, text);
  const img = await model.encodeImage(images);
  const txt = await model.encodeText(text);
  const cos = (a: Float32Array, b: Float32Array) => {
    let dot = 0,
      na = 0,
      nb = 0;
    for (let i = 0; i < a.length; i++) {
      dot += a[i]! * b[i]!;
      na += a[i]! ** 2;
      nb += b[i]! ** 2;
    }
    return dot / Math.sqrt(na * nb);
  };
  assert.deepEqual(logitsPerImage.shape, [2, 3]);
  assert.deepEqual(logitsPerText.shape, [3, 2]);
  for (let i = 0; i < 2; i++) {
    for (let t = 0; t < 3; t++) {
      const expected =
        Math.exp(model.logitScale) *
        cos(img.data.subarray(i * 16, i * 16 + 16), txt.data.subarray(t * 16, t * 16 + 16));
      assert.ok(Math.abs(logitsPerImage.data[i * 3 + t]! - expected) < 1e-4);
      assert.equal(logitsPerText.data[t * 2 + i], logitsPerImage.data[i * 3 + t]);
    }
  }
  await model.release();
});

test('runtime options: threads, optimisation level and no spinning give the same features', async () => {
  const sd = randomStateDict(TINY_VIT, 14);
  const images = randomImages(2, 16, 4);
  const reference = await new CLIP(sd).encodeImage(images);
  const tuned = await new CLIP(sd, { threads: 1, optimization: 'basic', spinning: false }).encodeImage(images);
  reference.data.forEach((v, i) => assert.ok(Math.abs(v - tuned.data[i]!) < 1e-5));
});

test('wrong input shapes and dtypes are rejected with the expected shape', async () => {
  const model = new CLIP(randomStateDict(TINY_VIT, 5));
  await assert.rejects(
    model.encodeImage(randomImages(1, 32, 0)),
    (e: Error) => e instanceof InputError && /expects images \[N, 3, 16, 16\], got \[1, 3, 32, 32\]/.test(e.message),
  );
  await assert.rejects(model.encodeText({ data: new Int32Array(4), shape: [1, 4] }), /expects tokens \[N, 8\]/);
  await assert.rejects(
    model.encodeText({ data: new Float32Array(8) as unknown as Int32Array, shape: [1, 8] }),
    /int32 token ids/,
  );
});
