// The `clip` command end to end, self-contained: a random-weight model written as safetensors, a
// tiny BPE merges file and a generated PNG in a temporary folder; the command is run as a process.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { randomStateDict } from '../src/models/random.js';
import { writeSafetensors } from '../src/weights/safetensors.js';
import { CFG, CLI, MERGES } from './tiny-cli-model.js';

let dir = '';
const run = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, CLIP_OFFLINE: '1', CLIP_CACHE_DIR: join(dir, 'cache') },
  });

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'clip-cli-'));
  writeSafetensors(join(dir, 'model.safetensors'), randomStateDict(CFG, 11));
  writeFileSync(join(dir, 'bpe_simple_vocab_16e6.txt'), MERGES);
  await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 200, g: 30, b: 90 } } })
    .png()
    .toFile(join(dir, 'red.png'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('clip models lists the reference names and the Chinese-CLIP ones', () => {
  const r = run('models');
  assert.equal(r.status, 0, r.stderr);
  assert.ok(
    r.stdout.includes('ViT-B/32\n') && r.stdout.includes('RN50x64\n') && r.stdout.includes('cn-clip/ViT-B-16\n'),
  );
});

test('clip tokenize prints ids with start/end tokens, and --decode turns ids back into text', () => {
  const bpe = join(dir, 'bpe_simple_vocab_16e6.txt');
  const r = run('tokenize', 'cat', '--bpe', bpe);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), '514 513 515');
  const d = run('tokenize', '--decode', '513', '--bpe', bpe);
  assert.equal(d.stdout.trim(), 'cat');
});

test('clip embed and classify run a local checkpoint; a missing image is reported and the rest carry on', () => {
  const embed = run('embed', join(dir, 'red.png'), '--text', 'cat', '--normalize', '--model', dir);
  assert.equal(embed.status, 0, embed.stderr);
  const lines = embed.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { embedding: number[] });
  assert.equal(lines.length, 2);
  for (const { embedding } of lines) {
    assert.equal(embedding.length, 8);
    assert.ok(Math.abs(Math.hypot(...embedding) - 1) < 1e-5);
  }
  const classify = run(
    'classify',
    join(dir, 'red.png'),
    join(dir, 'missing.png'),
    '--model',
    dir,
    '--labels',
    'cat,a',
    '--single-prompt',
  );
  assert.equal(classify.status, 1, 'a failed image makes the exit code 1');
  assert.match(classify.stderr, /skipped: .*missing\.png/);
  const percents = [...classify.stdout.matchAll(/([\d.]+)%/g)].map((m) => Number(m[1]));
  assert.equal(percents.length, 2);
  assert.ok(Math.abs(percents[0]! + percents[1]! - 100) < 0.02);
});

test('an unknown model name is a clear error', () => {
  const r = run('embed', '--text', 'x', '--model', 'ViT-Z/99');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /model "ViT-Z\/99" not found; available models/);
});

test('clip quantize calibrates the int8 image tower into the compiled cache; no images is a clear error', async () => {
  await sharp({ create: { width: 32, height: 32, channels: 3, background: { r: 10, g: 180, b: 40 } } })
    .png()
    .toFile(join(dir, 'green.png'));
  const r = run('quantize', join(dir, 'red.png'), join(dir, 'green.png'), '--model', dir);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /calibrated on 2 images/);
  const cosine = Number(/min ([\d.]+)/.exec(r.stdout)?.[1]);
  assert.ok(cosine > 0.99, r.stdout);
  const compiled = readdirSync(join(dir, 'cache', 'compiled'));
  assert.ok(
    compiled.some((key) => existsSync(join(dir, 'cache', 'compiled', key, 'image-int8-calibrated', 'model.onnx'))),
    compiled.join(),
  );
  const none = run('quantize', join(dir, 'no-such-folder'), '--model', dir);
  assert.equal(none.status, 1);
  assert.match(none.stderr, /^clip: none of the images could be read$/m);
});
