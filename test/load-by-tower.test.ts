// A first load with the compiled cache reads only the tower it compiles (readModelByTower): the
// checkpoint's shapes give the config, one scalar the logit scale, and each tower's tensors are
// read when that tower is compiled. The towers compute what a full read gives them, for OpenAI
// names and for open_clip's packaging (DistributedDataParallel `module.`, a `text.` tower, attn_mask).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { load } from '../src/load.js';
import { readModelByTower, type ModelFiles } from '../src/model-files.js';
import { randomStateDict } from '../src/models/random.js';
import type { StateDict } from '../src/tensor.js';
import { readCheckpoint, readCheckpointShapes } from '../src/weights/index.js';
import { writeSafetensors } from '../src/weights/safetensors.js';
import { writeTorchZip } from '../src/weights/torch-writer.js';
import { TINY_TRAINABLE } from './tiny-configs.js';

let dir = '';
const weights = randomStateDict(TINY_TRAINABLE, 5);
const openai = () => join(dir, 'openai.pt');
const packaged = () => join(dir, 'open-clip.pt');
const files = (path: string): ModelFiles => ({ weights: path, settings: { overrides: {} } });

/** open_clip's packaging of the same weights: a CustomTextCLIP `text.` tower, an attn_mask buffer, `module.` keys. */
function openClipPackaging(sd: StateDict): StateDict {
  const out: StateDict = new Map();
  for (const [name, tensor] of sd)
    out.set(`module.${name.startsWith('visual.') || name === 'logit_scale' ? '' : 'text.'}${name}`, tensor);
  out.set('module.text.attn_mask', { dtype: 'float32', shape: [2, 2], bytes: new Uint8Array(16) });
  return out;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'clip-by-tower-'));
  await writeTorchZip(openai(), weights);
  await writeTorchZip(packaged(), openClipPackaging(weights));
  writeSafetensors(join(dir, 'model.safetensors'), weights);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('readCheckpoint reads only the wanted tensors; readCheckpointShapes every shape and the wanted data', async () => {
  const all = await readCheckpoint(openai());
  const visual = await readCheckpoint(openai(), (name) => name.startsWith('visual.'));
  assert.deepEqual(
    [...visual.keys()],
    [...all.keys()].filter((k) => k.startsWith('visual.')),
  );
  for (const [name, t] of visual) assert.deepEqual(t, all.get(name), name);
  const header = await readCheckpointShapes(openai(), (name) => name === 'logit_scale');
  assert.ok(header);
  assert.deepEqual([...header.shapes.keys()], [...all.keys()]);
  for (const [name, s] of header.shapes)
    assert.deepEqual(s, { dtype: all.get(name)!.dtype, shape: all.get(name)!.shape });
  assert.deepEqual([...header.stateDict.keys()], ['logit_scale']);
  assert.equal(await readCheckpointShapes(join(dir, 'model.safetensors')), undefined, 'safetensors: read whole');
});

test('readModelByTower: config and logit scale from the shapes; each tower reads its own tensors only', async () => {
  for (const path of [openai(), packaged()]) {
    const byTower = await readModelByTower(files(path));
    assert.ok(byTower, path);
    assert.deepEqual(byTower.config, TINY_TRAINABLE);
    const image = await byTower.read('image');
    const text = await byTower.read('text');
    assert.ok([...image.keys()].every((k) => k.startsWith('visual.')) && image.size > 0);
    assert.ok([...text.keys()].every((k) => !k.startsWith('visual.')) && text.has('token_embedding.weight'));
    assert.equal(image.size + text.size, weights.size, 'between them, every weight (attn_mask dropped)');
    for (const [name, t] of [...image, ...text]) assert.deepEqual(t.bytes, weights.get(name)!.bytes, name);
  }
  assert.equal(await readModelByTower(files(join(dir, 'model.safetensors'))), undefined);
});

test('a first load compiling one tower at a time computes what a full read does, for both packagings', async () => {
  const image = {
    data: Float32Array.from({ length: 2 * 3 * 32 * 32 }, (_, i) => Math.cos(i / 5)),
    shape: [2, 3, 32, 32],
  };
  const reference = await load(openai());
  const tokens = { data: new Int32Array(77), shape: [1, 77] };
  tokens.data.set([513, 40, 41, 514]);
  const expected = {
    image: Array.from((await reference.model.encodeImage(image)).data),
    text: Array.from((await reference.model.encodeText(tokens)).data),
    logitScale: reference.model.logitScale,
  };
  await reference.model.release();
  const close = (x: number[], y: number[]) => x.length === y.length && x.every((v, i) => Math.abs(v - y[i]!) <= 1e-6);
  for (const path of [openai(), packaged()]) {
    const cacheDir = mkdtempSync(join(dir, 'cache-'));
    const cold = await load(path, { compiledCache: true, cacheDir });
    assert.equal(cold.model.logitScale, expected.logitScale);
    assert.ok(close(Array.from((await cold.model.encodeImage(image)).data), expected.image), `${path}: image`);
    assert.ok(close(Array.from((await cold.model.encodeText(tokens)).data), expected.text), `${path}: text`);
    await cold.model.release();
    // The image tower compiled by one load, the text tower by the next (which finds the cache's meta).
    const later = mkdtempSync(join(dir, 'cache-'));
    const first = await load(path, { compiledCache: true, cacheDir: later });
    assert.ok(close(Array.from((await first.model.encodeImage(image)).data), expected.image), `${path}: image, then`);
    await first.model.release();
    const second = await load(path, { compiledCache: true, cacheDir: later });
    assert.ok(close(Array.from((await second.model.encodeText(tokens)).data), expected.text), `${path}: text, later`);
    await second.model.release();
  }
});
