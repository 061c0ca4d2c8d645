// loadInWorker: the model on its own thread computes exactly what `load`'s computes, keeps this
// thread free while it runs, reports typed errors, and ends its thread on release.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CheckpointError, InputError } from '../src/errors.js';
import { load } from '../src/load.js';
import { loadInWorker } from '../src/load-in-worker.js';
import { randomStateDict } from '../src/models/random.js';
import { writeSafetensors } from '../src/weights/safetensors.js';
import { TINY_TRAINABLE } from './tiny-configs.js';

let dir = '';
let checkpoint = '';
const bpePath = () => join(dir, 'bpe_simple_vocab_16e6.txt');
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'clip-worker-'));
  checkpoint = join(dir, 'model.safetensors');
  writeSafetensors(checkpoint, randomStateDict(TINY_TRAINABLE, 3));
  writeFileSync(bpePath(), '#version: 0.2\nr e\n');
});
after(() => rmSync(dir, { recursive: true, force: true }));

const images = (n: number) => ({
  data: Float32Array.from({ length: n * 3 * 32 * 32 }, (_, i) => Math.sin(i / 7)),
  shape: [n, 3, 32, 32],
});

test('loadInWorker: the same features as load, for images and texts, and the same transform', async () => {
  const here = await load(checkpoint, { bpePath: bpePath() });
  const there = await loadInWorker(checkpoint, { bpePath: bpePath() });
  try {
    assert.deepEqual(there.transform, here.transform);
    assert.deepEqual(there.model.config, here.model.config);
    assert.equal(there.model.logitScale, here.model.logitScale);
    assert.equal(there.checkpoint, here.checkpoint);
    const input = images(3);
    const mine = await here.model.encodeImage(input);
    const theirs = await there.model.encodeImage(input);
    assert.deepEqual(theirs.shape, mine.shape);
    assert.deepEqual(Array.from(theirs.data), Array.from(mine.data), 'bit-identical image features');
    assert.equal(input.data.length, 3 * 3 * 32 * 32, 'the caller keeps its input (copied, not moved)');
    const pre = await there.model.encodeImage(input, { output: 'pre-projection' });
    assert.deepEqual(
      Array.from(pre.data),
      Array.from((await here.model.encodeImage(input, { output: 'pre-projection' })).data),
    );
    const tokens = here.tokenize(['a red', 'tree']);
    assert.deepEqual(
      Array.from((await there.model.encodeText(tokens)).data),
      Array.from((await here.model.encodeText(tokens)).data),
    );
    const batch = await there.preprocessBatch([
      { width: 4, height: 2, channels: 3, data: new Uint8Array(24).fill(90) },
    ]);
    assert.deepEqual(batch.tensor.shape, [1, 3, 32, 32]);
  } finally {
    await here.model.release();
    await there.model.release();
  }
});

test('loadInWorker: this thread runs while the model does (a timer fires before the features come)', async () => {
  const clip = await loadInWorker(checkpoint);
  try {
    await clip.model.encodeImage(images(1)); // the session is created on first use
    const order: string[] = [];
    const encoding = clip.model.encodeImage(images(1024)).then(() => order.push('features'));
    await new Promise((resolve) => setTimeout(resolve, 0));
    order.push('timer');
    await encoding;
    assert.deepEqual(order, ['timer', 'features']);
  } finally {
    await clip.model.release();
  }
});

test('loadInWorker: typed errors from the thread, a failed load ends it, and a released model refuses calls', async () => {
  await assert.rejects(
    loadInWorker(join(dir, 'nope.pt')),
    (e: Error) => e instanceof InputError && /nope\.pt/.test(e.message),
  );
  const broken = join(dir, 'broken.pt');
  writeFileSync(broken, 'PK\x03\x04 not really a zip');
  await assert.rejects(
    loadInWorker(broken),
    (e: Error) => e instanceof CheckpointError && /broken\.pt/.test(e.message),
  );

  const clip = await loadInWorker(checkpoint);
  await assert.rejects(
    clip.model.encodeImage({ data: new Float32Array(3 * 8 * 8), shape: [1, 3, 8, 8] }),
    (e: Error) => e instanceof InputError && /expects images \[N, 3, 32, 32\]/.test(e.message),
  );
  assert.deepEqual((await clip.model.encodeImage(images(2))).shape, [2, 16], 'the thread still serves after an error');
  await clip.model.release();
  await assert.rejects(clip.model.encodeImage(images(1)), /released/);
  await clip.model.release(); // twice is harmless
});

test('favour: every thread but the model thread gets nice +10, and the model still answers (Linux)', async (t) => {
  if (!existsSync('/proc/thread-self')) return t.skip('no /proc/thread-self: favour does nothing here');
  const clip = await loadInWorker(checkpoint);
  try {
    assert.equal(getPriority(0), 0, 'this thread starts at nice 0');
    clip.model.favour();
    assert.equal(getPriority(0), 10, 'this thread yields to the model');
    const niceOf = (task: string) =>
      Number(readFileSync(`/proc/self/task/${task}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]);
    const nice = readdirSync('/proc/self/task').map(niceOf);
    assert.equal(nice.filter((n) => n === 0).length, 1, `one thread (the model's) keeps nice 0: ${nice.join(' ')}`);
    assert.deepEqual((await clip.model.encodeImage(images(2))).shape, [2, 16]);
  } finally {
    await clip.model.release();
  }
});
