// load() on local files, self-contained: a folder with a checkpoint and a merges file, clear
// errors, and the compiled-model cache (a second load reuses the compiled towers; a changed file
// gets new ones).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { InputError } from '../src/errors.js';
import { load } from '../src/load.js';
import type { ClipConfig } from '../src/models/config.js';
import { randomStateDict } from '../src/models/random.js';
import { writeSafetensors } from '../src/weights/safetensors.js';

const CFG: ClipConfig = {
  embedDim: 8,
  vision: { kind: 'resnet', width: 4, layers: [1, 1, 1, 1], heads: 2, imageResolution: 32 },
  text: { kind: 'transformer', width: 64, layers: 1, heads: 1, contextLength: 16, vocabSize: 516 },
  activation: 'quick_gelu',
};
let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'clip-load-'));
  writeSafetensors(join(dir, 'model.safetensors'), randomStateDict(CFG, 12));
  writeFileSync(join(dir, 'bpe_simple_vocab_16e6.txt'), '#version: tiny\nc a\nca t</w>\n');
});
after(() => rmSync(dir, { recursive: true, force: true }));

const image = { data: Float32Array.from({ length: 3 * 32 * 32 }, (_, i) => Math.sin(i)), shape: [1, 3, 32, 32] };

test('a folder with a checkpoint and a merges file loads with its own tokenizer and preprocessing', async () => {
  const clip = await load(dir);
  assert.deepEqual(clip.model.config, CFG);
  assert.deepEqual(Array.from(clip.tokenize('cat').data.subarray(0, 4)), [514, 513, 515, 0]);
  const pixels = await clip.preprocess({ width: 2, height: 2, channels: 3, data: new Uint8Array(12).fill(255) });
  assert.deepEqual(pixels.shape, [3, 32, 32]);
  await clip.model.release();
});

test('a path that is neither a file nor a model name is a clear error', async () => {
  await assert.rejects(
    load(join(dir, 'nope.pt')),
    (e: Error) => e instanceof InputError && /nope\.pt: no such file/.test(e.message),
  );
});

test('compiled cache: the second load reuses the compiled towers; a changed file is recompiled', async () => {
  const cache = join(dir, 'cache');
  const first = await load(join(dir, 'model.safetensors'), {
    compiledCache: true,
    cacheDir: cache,
    bpePath: join(dir, 'bpe_simple_vocab_16e6.txt'),
  });
  const a = await first.model.encodeImage(image);
  const ta = await first.model.encodeText(first.tokenize(['cat']));
  await first.model.release();
  // The compiled towers compute what the towers built in memory compute (small weights kept inline
  // beside external data once aliased a reused buffer, and every model loaded by name was wrong).
  const plain = await load(join(dir, 'model.safetensors'), { bpePath: join(dir, 'bpe_simple_vocab_16e6.txt') });
  const close = (x: Float32Array, y: Float32Array) => x.every((v, i) => Math.abs(v - y[i]!) <= 1e-6);
  assert.ok(close(a.data, (await plain.model.encodeImage(image)).data), 'compiled image tower = in-memory one');
  assert.ok(
    close(ta.data, (await plain.model.encodeText(plain.tokenize(['cat']))).data),
    'compiled text tower = in-memory one',
  );
  await plain.model.release();
  const [key] = readdirSync(join(cache, 'compiled'));
  assert.deepEqual(readdirSync(join(cache, 'compiled', key!)).sort(), ['image', 'meta.json', 'text']);

  const second = await load(join(dir, 'model.safetensors'), {
    compiledCache: true,
    cacheDir: cache,
    bpePath: join(dir, 'bpe_simple_vocab_16e6.txt'),
  });
  assert.deepEqual(second.model.config, CFG);
  assert.deepEqual(await second.model.encodeImage(image), a);
  assert.deepEqual(await second.model.encodeText(second.tokenize(['cat'])), ta);
  await second.model.release();
  assert.equal(readdirSync(join(cache, 'compiled')).length, 1, 'no second compilation');

  const later = new Date(Date.now() + 5000);
  utimesSync(join(dir, 'model.safetensors'), later, later);
  const third = await load(join(dir, 'model.safetensors'), { compiledCache: true, cacheDir: cache });
  await third.model.encodeImage(image);
  await third.model.release();
  assert.equal(readdirSync(join(cache, 'compiled')).length, 2, 'a modified checkpoint gets its own compiled models');
});
