// Evaluation while training, self-contained: recall@K on a hand-made similarity matrix, retrieval
// and zero-shot accuracy of a tiny random ViT on generated images (checked against its own
// features), and trainClip calling onEval/onStep with the figures the CLI prints.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { preprocessBatch } from '../src/image/index.js';
import { CLIP } from '../src/inference/clip.js';
import { normalizeRows } from '../src/inference/logits.js';
import { randomStateDict } from '../src/models/random.js';
import { readLabelledFolder, recallAtK, retrievalRecall, zeroShotAccuracy } from '../src/train/evaluate.js';
import { trainClip } from '../src/train/run.js';
import { writeSafetensors } from '../src/weights/safetensors.js';
import { byteTokenizer, TINY_TRAINABLE } from './tiny-configs.js';

const tokenizer = byteTokenizer();
const CFG = TINY_TRAINABLE;
const tokenize = (texts: readonly string[]) => tokenizer.tokenize(texts, { contextLength: 77, truncate: true });
const COLOURS = ['red', 'green', 'blue', 'dark', 'light', 'warm'];

let dir = '';
const pairs: { image: string; caption: string }[] = [];
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'clip-eval-'));
  for (const [i, word] of COLOURS.entries()) {
    const label = ['cat', 'dog', 'car'][i % 3]!;
    mkdirSync(join(dir, 'labelled', label), { recursive: true });
    const png = await sharp({
      create: {
        width: 40,
        height: 36,
        channels: 3,
        background: { r: (i * 70) % 256, g: (i * 40) % 256, b: (i * 110) % 256 },
      },
    })
      .png()
      .toBuffer();
    writeFileSync(join(dir, 'labelled', label, `${word}.png`), png);
    writeFileSync(join(dir, `img${i}.png`), png);
    writeFileSync(join(dir, `img${i}.txt`), `a ${word} square\n`);
    pairs.push({ image: join(dir, `img${i}.png`), caption: `a ${word} square` });
  }
  writeFileSync(join(dir, 'labelled', 'cat', 'broken.png'), 'not an image');
  writeFileSync(
    join(dir, 'pairs.csv'),
    'filepath,title\n' + pairs.map((p, i) => `img${i}.png,${p.caption}`).join('\n') + '\nmissing.png,a lost image\n',
  );
  writeSafetensors(join(dir, 'start.safetensors'), randomStateDict(CFG, 3));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('recallAtK: a match counts at K when fewer than K candidates score strictly higher', () => {
  // Row i = image i against texts 0..2; the diagonal holds the true pairs.
  const sim = Float32Array.from([
    0.9,
    0.1,
    0.2, // image 0: its caption is best                  → rank 0
    0.5,
    0.4,
    0.3, // image 1: text 0 scores higher                 → rank 1
    0.1,
    0.8,
    0.7, // image 2: text 1 scores higher                 → rank 1
  ]);
  // Columns: text 0 best matches image 0 (rank 0); text 1: image 2 beats image 1 (rank 1); text 2: 0.7 is the top of
  // its column (rank 0).
  assert.deepEqual(recallAtK(sim, 3, [1, 2]), { imageToText: { 1: 1 / 3, 2: 1 }, textToImage: { 1: 2 / 3, 2: 1 } });
});

test('retrievalRecall on a random model: recall@K is 1 once K ≥ pairs, and recall@1 matches the features', async () => {
  const model = new CLIP(randomStateDict(CFG, 3));
  try {
    const withBroken = [...pairs, { image: join(dir, 'missing.png'), caption: 'a lost image' }];
    const r = await retrievalRecall(model, tokenize, withBroken, [1, pairs.length]);
    assert.equal(r.pairs, pairs.length);
    assert.equal(r.skipped, 1, 'the missing image and its caption are left out');
    assert.equal(r.imageToText[pairs.length], 1);
    assert.equal(r.textToImage[pairs.length], 1);
    // Recall@1 image→text = how many images have their own caption as the nearest text.
    const { tensor } = await preprocessBatch(
      pairs.map((p) => p.image),
      { size: 32 },
    );
    const img = normalizeRows(await model.encodeImage(tensor));
    const txt = normalizeRows(await model.encodeText(tokenize(pairs.map((p) => p.caption))));
    const d = CFG.embedDim;
    const dot = (i: number, j: number) =>
      img.data.subarray(i * d, (i + 1) * d).reduce((s, v, k) => s + v * txt.data[j * d + k]!, 0);
    const nearest = pairs.map((_, i) =>
      pairs.map((_, j) => dot(i, j)).reduce((best, v, j, all) => (v > all[best]! ? j : best), 0),
    );
    assert.equal(r.imageToText[1], nearest.filter((j, i) => j === i).length / pairs.length);
  } finally {
    await model.release();
  }
});

test(
  'zeroShotAccuracy: top-1 agrees with the nearest "a photo of a {label}." embedding; unreadable files are ' +
    'skipped',
  async () => {
    const model = new CLIP(randomStateDict(CFG, 3));
    try {
      const images = readLabelledFolder(join(dir, 'labelled'));
      assert.equal(images.length, COLOURS.length + 1);
      const r = await zeroShotAccuracy(model, tokenize, images);
      assert.equal(r.images, COLOURS.length);
      assert.equal(r.skipped, 1);
      const readable = images.filter((i) => !i.image.endsWith('broken.png'));
      const labels = ['car', 'cat', 'dog'];
      const { tensor } = await preprocessBatch(
        readable.map((i) => i.image),
        { size: 32 },
      );
      const img = normalizeRows(await model.encodeImage(tensor));
      const txt = normalizeRows(await model.encodeText(tokenize(labels.map((l) => `a photo of a ${l}.`))));
      const d = CFG.embedDim;
      const predicted = readable.map((_, i) => {
        const scores = labels.map((_, l) =>
          img.data.subarray(i * d, (i + 1) * d).reduce((s, v, k) => s + v * txt.data[l * d + k]!, 0),
        );
        return labels[scores.indexOf(Math.max(...scores))];
      });
      assert.equal(r.top1, predicted.filter((p, i) => p === readable[i]!.label).length / readable.length);
    } finally {
      await model.release();
    }
  },
);

test('trainClip evaluates every N steps and reports loss, lr, logit scale and throughput each step', async () => {
  const steps: { step: number; logitScale: number; samplesPerSecond: number; lr: number; loss: number }[] = [];
  const evals: {
    step: number;
    zeroShot?: { images: number };
    retrieval?: { pairs: number; imageToText: Record<number, number> };
  }[] = [];
  const result = await trainClip({
    model: join(dir, 'start.safetensors'),
    output: join(dir, 'out.safetensors'),
    data: { folder: dir },
    batchSize: 2,
    epochs: 1,
    lr: 1e-3,
    tokenizer,
    workers: 1,
    evaluation: { every: 2, folder: join(dir, 'labelled'), pairs: { csv: join(dir, 'pairs.csv') } },
    onStep: (s) => steps.push(s),
    onEval: (e) => evals.push(e),
  });
  assert.equal(result.steps, 3, '6 pairs in batches of 2');
  // Every 2 steps (step 2), then after the last step (3).
  assert.deepEqual(
    evals.map((e) => e.step),
    [2, 3],
  );
  for (const e of evals) {
    assert.equal(e.zeroShot!.images, COLOURS.length);
    assert.equal(e.retrieval!.pairs, pairs.length);
    assert.equal(e.retrieval!.imageToText[5] !== undefined, true);
  }
  for (const s of steps) {
    assert.ok(Number.isFinite(s.loss) && s.lr > 0 && s.lr <= 1e-3 && s.samplesPerSecond > 0, JSON.stringify(s));
    // randomStateDict's logit_scale is ln(1/0.07); Adam moves it by about lr per step (no weight
    // decay on it by default), so exp() of the stored value is reported, not the log.
    assert.ok(
      Math.abs(Math.log(s.logitScale) - Math.log(1 / 0.07)) <= s.step * 1e-3 * 1.5,
      `logit scale ${s.logitScale}`,
    );
  }
});
