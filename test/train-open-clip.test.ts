// Fine-tuning open_clip models: training opens a model as load() does (model-files.ts) and builds
// its towers with the same dispatcher (models/towers.ts), so a GELU checkpoint and one whose heads
// are not width / 64 are trained as what they are. For each: the training forward's logits equal
// load()'s; one step of trainClip starts from the loss of load()'s logits on the same pairs; and the
// output, saved with the starting model's config beside it, loads back as the same architecture.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { load } from '../src/load.js';
import { findModelFiles, readModel } from '../src/model-files.js';
import { inferConfigFromStateDict, type ClipConfig } from '../src/models/config.js';
import type { Tensor } from '../src/tensor.js';
import { trainClip } from '../src/train/run.js';
import { Trainer } from '../src/train/trainer.js';
import { modelCfgOf, writeHubFolder } from './open-clip-writer.js';

const text = { kind: 'transformer' as const, width: 64, layers: 1, heads: 2, contextLength: 16, vocabSize: 515 };
const MODELS: { name: string; cfg: ClipConfig; headWidth: number }[] = [
  {
    name: 'GELU (open_clip default)',
    headWidth: 64,
    cfg: {
      embedDim: 16,
      vision: { kind: 'vit', width: 64, layers: 2, heads: 1, patchSize: 8, imageResolution: 16 },
      text: { ...text, heads: 1 },
      activation: 'gelu',
    },
  },
  {
    name: 'QuickGELU, 16-wide vision heads, 32-wide text heads',
    headWidth: 16,
    cfg: {
      embedDim: 16,
      vision: { kind: 'vit', width: 64, layers: 2, heads: 4, patchSize: 8, imageResolution: 16 },
      text,
      activation: 'quick_gelu',
    },
  },
];

const CAPTIONS = ['a red square', 'a green square', 'a blue square', 'a dark square'];
const BATCH = CAPTIONS.length;

let dir = '';
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'clip-train-open-clip-'));
  for (const [i, caption] of CAPTIONS.entries()) {
    const png = await sharp({
      create: { width: 24, height: 20, channels: 3, background: { r: 60 * i, g: 200 - 40 * i, b: 90 } },
    })
      .png()
      .toBuffer();
    writeFileSync(join(dir, `img${i}.png`), png);
    writeFileSync(join(dir, `img${i}.txt`), caption);
  }
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** CLIP's loss from logits [B, B]: the mean of cross-entropy over rows and over columns. */
function clipLossOf(logits: Tensor): number {
  const n = logits.shape[0]!;
  const at = (i: number, j: number) => logits.data[i * n + j]!;
  let rows = 0;
  let cols = 0;
  for (let i = 0; i < n; i++) {
    const lse = (f: (k: number) => number) => {
      const m = Math.max(...Array.from({ length: n }, (_, k) => f(k)));
      return m + Math.log(Array.from({ length: n }, (_, k) => Math.exp(f(k) - m)).reduce((a, b) => a + b));
    };
    rows += lse((k) => at(i, k)) - at(i, i);
    cols += lse((k) => at(k, i)) - at(i, i);
  }
  return (rows + cols) / (2 * n);
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

for (const [index, { name, cfg, headWidth }] of MODELS.entries()) {
  test(`fine-tuning ${name}: the training forward is load()'s`, async () => {
    const hub = join(dir, `model${index}`);
    await writeHubFolder(hub, cfg, modelCfgOf(cfg, headWidth), 20 + index);
    writeFileSync(join(hub, 'bpe_simple_vocab_tiny.txt'), '#version: 0.2\nr e\n');
    const clip = await load(hub);
    assert.deepEqual(clip.model.config, cfg);
    const { tensor: images } = await clip.preprocessBatch(
      CAPTIONS.map((_, i) => join(dir, `img${i}.png`)),
      { concurrency: 1 },
    );
    const tokens = clip.tokenize(CAPTIONS);
    const inference = (await clip.model.forward(images, tokens)).logitsPerImage;
    await clip.model.release();

    // The model as training opens it (what trainClip does), in the training graph.
    const { stateDict, config } = await readModel(await findModelFiles(hub));
    const logitsOf = async (c: ClipConfig) => {
      const trainer = await Trainer.create(stateDict, c, { batchSize: BATCH });
      try {
        return (await trainer.computeGradients({ images, tokens })).outputs.logits_per_image!.data as Float32Array;
      } finally {
        await trainer.release();
      }
    };
    assert.ok(maxDiff(await logitsOf(config), inference.data) < 1e-4, "training logits equal load()'s");
    // What training did before it read the config (OpenAI's rules from the shapes) is another model.
    assert.ok(
      maxDiff(await logitsOf(inferConfigFromStateDict(stateDict)), inference.data) > 1e-3,
      'the config must matter here',
    );

    // trainClip end to end: its first step's loss is that of load()'s logits (the loss does not
    // depend on the order of the pairs, and one batch holds all of them).
    const losses: number[] = [];
    const output = join(dir, `tuned${index}.safetensors`);
    await trainClip({
      model: hub,
      data: { folder: dir },
      batchSize: BATCH,
      epochs: 1,
      lr: 1e-4,
      output,
      workers: 1,
      onStep: (s) => losses.push(s.loss),
    });
    assert.equal(losses.length, 1);
    assert.ok(
      Math.abs(losses[0]! - clipLossOf(inference)) < 1e-5,
      `loss ${losses[0]} vs load()'s ${clipLossOf(inference)}`,
    );
    const tuned = await load(output);
    assert.deepEqual(tuned.model.config, cfg, 'the output keeps its heads and activation');
    await tuned.model.release();
  });
}
