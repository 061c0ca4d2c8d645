// The training loop end to end on a tiny random ViT and a folder of generated images: bad images
// are skipped and counted, checkpoints are readable models, and a run resumed from its checkpoint
// ends with exactly the weights of an uninterrupted run. Also the CSV reader and the shuffle.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { inferConfigFromStateDict } from '../src/models/config.js';
import { randomStateDict } from '../src/models/random.js';
import { Tokenizer } from '../src/text/index.js';
import tar from 'tar-stream';
import {
  epochOrder,
  readCsvSamples,
  readFolderSamples,
  streamBatches,
  webDatasetPairs,
  type SkipCount,
} from '../src/train/data.js';
import { trainClip } from '../src/train/run.js';
import { readCheckpoint } from '../src/weights/index.js';
import { writeSafetensors } from '../src/weights/safetensors.js';
import { byteTokenizer, TINY_TRAINABLE } from './tiny-configs.js';

const tokenizer = byteTokenizer();
const CFG = TINY_TRAINABLE;

async function makeDataset(dir: string): Promise<void> {
  const words = ['red', 'green', 'blue', 'dark', 'light', 'warm', 'cold', 'grey', 'pale'];
  for (const [i, word] of words.entries()) {
    const png = await sharp({
      create: {
        width: 40,
        height: 36,
        channels: 3,
        background: { r: (i * 70) % 256, g: (i * 40) % 256, b: (i * 20) % 256 },
      },
    })
      .png()
      .toBuffer();
    writeFileSync(join(dir, `img${i}.png`), png);
    writeFileSync(join(dir, `img${i}.txt`), `a ${word} square\n`);
  }
  writeFileSync(join(dir, 'broken.jpg'), 'not an image');
  writeFileSync(join(dir, 'broken.txt'), 'a broken file');
  writeFileSync(join(dir, 'uncaptioned.png'), 'no caption beside it, so not a sample');
}

test('training resumes exactly, skips bad images, and writes checkpoints readCheckpoint accepts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clip-train-'));
  try {
    await makeDataset(dir);
    assert.equal(readFolderSamples(dir).length, 10);
    const start = join(dir, 'start.safetensors');
    writeSafetensors(start, randomStateDict(CFG, 7));
    const common = {
      model: start,
      data: { folder: dir },
      batchSize: 4,
      lr: 1e-3,
      warmup: 1,
      seed: 5,
      workers: 1,
      tokenizer,
    };

    const straight = await trainClip({ ...common, output: join(dir, 'straight.safetensors'), epochs: 2 });
    assert.equal(straight.steps, 4); // 10 pairs → 2 full batches per epoch
    assert.ok(straight.skipped >= 1, 'the unreadable image was skipped');
    assert.ok(Number.isFinite(straight.lastLoss));

    const resumed = join(dir, 'resumed.safetensors');
    await trainClip({ ...common, output: resumed, epochs: 1 });
    const end = await trainClip({ ...common, output: resumed, epochs: 2, resume: true });
    assert.equal(end.steps, 4);

    const a = await readCheckpoint(join(dir, 'straight.safetensors'));
    const b = await readCheckpoint(resumed);
    assert.deepEqual(inferConfigFromStateDict(a), CFG);
    const original = await readCheckpoint(start);
    assert.notDeepEqual(
      a.get('visual.proj')!.bytes,
      original.get('visual.proj')!.bytes,
      'training changed the weights',
    );
    for (const [k, t] of a)
      assert.deepEqual(b.get(k)!.bytes, t.bytes, `${k}: resumed run equals the uninterrupted one`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CSV/TSV pairs: open_clip columns, quoting, paths relative to the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'clip-csv-'));
  try {
    writeFileSync(join(dir, 'pairs.csv'), 'filepath\ttitle\nimages/a.jpg\t"a ""quoted"" caption"\n/abs/b.png\tplain\n');
    assert.deepEqual(readCsvSamples(join(dir, 'pairs.csv')), [
      { image: join(dir, 'images/a.jpg'), caption: 'a "quoted" caption' },
      { image: '/abs/b.png', caption: 'plain' },
    ]);
    writeFileSync(join(dir, 'other.csv'), 'path,text\nx.jpg,"one, two"\r\n');
    assert.deepEqual(readCsvSamples(join(dir, 'other.csv'), { imageKey: 'path', captionKey: 'text' }), [
      { image: join(dir, 'x.jpg'), caption: 'one, two' },
    ]);
    assert.throws(() => readCsvSamples(join(dir, 'other.csv')), /"filepath" and "title"/);
    writeFileSync(join(dir, 'bom.csv'), '\ufefffilepath,title\nx.jpg,a caption\n');
    assert.deepEqual(readCsvSamples(join(dir, 'bom.csv')), [{ image: join(dir, 'x.jpg'), caption: 'a caption' }]);
    writeFileSync(join(dir, 'open-quote.csv'), 'filepath,title\nx.jpg,"never closed\n');
    assert.throws(() => readCsvSamples(join(dir, 'open-quote.csv')), /open-quote\.csv: not a valid CSV file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('epoch order is a seeded permutation: same for the same (seed, epoch), different across epochs', () => {
  const a = epochOrder(50, 1, 0);
  assert.deepEqual(
    [...a].sort((x, y) => x - y),
    [...Array(50).keys()],
  );
  assert.deepEqual(epochOrder(50, 1, 0), a);
  assert.notDeepEqual(epochOrder(50, 1, 1), a);
  assert.notDeepEqual(epochOrder(50, 2, 0), a);
});

async function writeTar(path: string, files: [string, Uint8Array | string][]): Promise<void> {
  const pack = tar.pack();
  for (const [name, body] of files) pack.entry({ name }, Buffer.from(body));
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  writeFileSync(path, Buffer.concat(chunks));
}

test('WebDataset shards: pairs by key, incomplete/unreadable samples skipped and counted, seeded shuffle', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clip-wds-'));
  try {
    const png = (v: number) =>
      sharp({ create: { width: 8, height: 8, channels: 3, background: { r: v, g: v, b: v } } })
        .png()
        .toBuffer();
    const shards = [join(dir, 'shard-0.tar'), join(dir, 'shard-1.tar')];
    await writeTar(shards[0]!, [
      ['a.png', await png(10)],
      ['a.txt', 'first'],
      ['b.png', await png(90)],
      ['b.txt', 'second'],
      ['c.txt', 'no image'],
    ]);
    await writeTar(shards[1]!, [
      ['sub/d.png', await png(200)],
      ['sub/d.txt', 'third'],
      ['e.jpg', 'broken bytes'],
      ['e.txt', 'unreadable'],
    ]);
    const collect = async (seed: number) => {
      const skipped: SkipCount = { count: 0 };
      const out: string[] = [];
      for await (const p of webDatasetPairs(shards, { seed, epoch: 0, bufferSize: 2 }, skipped)) out.push(p.caption);
      return { out, skipped };
    };
    const first = await collect(3);
    assert.deepEqual([...first.out].sort(), ['first', 'second', 'third', 'unreadable']);
    assert.equal(first.skipped.count, 1);
    assert.match(first.skipped.last!, /"c" lacks an image/);
    assert.deepEqual((await collect(3)).out, first.out, 'same seed, same order');

    const skipped: SkipCount = { count: 0 };
    const batches = [];
    for await (const b of streamBatches(
      webDatasetPairs(shards, { seed: 3 }, skipped),
      { batchSize: 2, resolution: 8, tokenizer, contextLength: 77 },
      skipped,
    ))
      batches.push(b);
    assert.equal(batches.length, 1, 'three readable pairs make one batch of 2; the rest is dropped');
    assert.deepEqual(batches[0]!.images.shape, [2, 3, 8, 8]);
    assert.equal(skipped.count, 2, 'the caption without an image and the unreadable image');

    const start = join(dir, 'start.safetensors');
    writeSafetensors(start, randomStateDict(CFG, 8));
    const run = await trainClip({
      model: start,
      data: { shards, samples: 3, bufferSize: 2 },
      output: join(dir, 'out.safetensors'),
      batchSize: 2,
      epochs: 2,
      tokenizer,
      workers: 1,
    });
    assert.equal(run.steps, 2, 'one batch per epoch (3 samples / batch 2)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  'the starting model: scratch:<architecture> must name an official architecture; an unknown name is a clear ' +
    'error',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'clip-train-start-'));
    try {
      const csv = join(dir, 'pairs.csv');
      writeFileSync(csv, 'filepath\ttitle\na.png\tone\nb.png\ttwo\n');
      const common = {
        data: { csv },
        output: join(dir, 'out.safetensors'),
        batchSize: 2,
        epochs: 1,
        tokenizer: Tokenizer.fromMergesText('#version: tiny\n'),
      };
      await assert.rejects(
        trainClip({ ...common, model: 'scratch:ViT-Z/9' }),
        /"scratch:ViT-Z\/9": expected scratch:<one of RN50, .*ViT-B\/32/,
      );
      await assert.rejects(trainClip({ ...common, model: 'no-such-model' }), /model "no-such-model" not found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
