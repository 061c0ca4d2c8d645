// open_clip packaging and plain OpenAI names → canonical; the Chinese-CLIP hook; key validation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../src/errors.js';
import { fromFloat32, type RawTensor, type StateDict } from '../src/tensor.js';
import { isCanonicalKey } from '../src/weights/keymap/canonical.js';
import { detectLayout, toCanonical } from '../src/weights/keymap/index.js';
import { OPENAI_FIXTURES, needsFixtures } from './fixtures.js';

const t = (...values: number[]): RawTensor => fromFloat32(Float32Array.from(values), [values.length]);

/** A few keys of each kind an OpenAI ViT checkpoint has (values only need to be told apart). */
function openAiKeys(): StateDict {
  return new Map([
    ['visual.conv1.weight', t(1)],
    ['visual.transformer.resblocks.0.attn.in_proj_weight', t(2)],
    ['visual.proj', t(3)],
    ['token_embedding.weight', t(4)],
    ['positional_embedding', t(5)],
    ['transformer.resblocks.0.mlp.c_fc.weight', t(6)],
    ['ln_final.weight', t(7)],
    ['text_projection', t(8)],
    ['logit_scale', fromFloat32(new Float32Array([4.6]), [])],
  ]);
}

test('plain OpenAI names pass through unchanged', () => {
  const sd = openAiKeys();
  assert.equal(detectLayout(sd), 'openai');
  const out = toCanonical(sd);
  assert.deepEqual([...out], [...sd]);
});

test('open_clip packaging: module. prefix, text. tower, attn_mask buffer and [1]-shaped logit_scale', () => {
  const plain = openAiKeys();
  const packaged: StateDict = new Map();
  for (const [k, v] of plain) {
    const textTower = /^(token_embedding|positional_embedding|transformer|ln_final|text_projection)/.test(k);
    packaged.set(`module.${textTower ? 'text.' : ''}${k}`, k === 'logit_scale' ? { ...v, shape: [1] } : v);
  }
  packaged.set('module.text.attn_mask', t(0));
  assert.equal(detectLayout(packaged), 'open_clip');
  const out = toCanonical(packaged);
  assert.deepEqual([...out.keys()].sort(), [...plain.keys()].sort());
  for (const [k, v] of plain) assert.deepEqual(out.get(k)!.bytes, v.bytes, k);
  assert.deepEqual(out.get('logit_scale')!.shape, []);
});

test('open_clip models outside the OpenAI architecture are rejected by key name', () => {
  for (const key of [
    'logit_bias',
    'visual.transformer.resblocks.0.ls_1.gamma',
    'visual.trunk.blocks.0.norm1.weight',
    'text.transformer.embeddings.word_embeddings.weight',
    'visual.attn_pool.query',
  ]) {
    const sd = new Map([...openAiKeys(), [key, t(9)]]);
    assert.throws(
      () => toCanonical(sd),
      (e: Error) => e instanceof ConfigError && e.message.includes(`unexpected key ${key}`),
      key,
    );
  }
});

test('Chinese-CLIP is recognised: module. prefix removed, bert.* kept, the unused pooler dropped', () => {
  // Chinese-CLIP training checkpoints: DDP-prefixed, text tower under bert.
  const sd: StateDict = new Map([...openAiKeys()].map(([k, v]) => [`module.${k}`, v]));
  sd.set('module.bert.embeddings.word_embeddings.weight', t(1));
  sd.set('module.bert.pooler.dense.weight', t(1));
  assert.equal(detectLayout(sd), 'chinese-clip');
  const canonical = toCanonical(sd);
  assert.ok(canonical.has('bert.embeddings.word_embeddings.weight') && canonical.has('visual.proj'));
  assert.ok(![...canonical.keys()].some((k) => k.startsWith('module.') || k.includes('pooler')));
});

test('the canonical grammar accepts every key of the reference ViT and ResNet checkpoints', {
  skip: needsFixtures(OPENAI_FIXTURES),
}, () => {
  // Python's json writes NaN for some measured values; they are not what this test reads.
  const text = readFileSync(join(OPENAI_FIXTURES, 'manifest.json'), 'utf8').replace(
    /:\s*-?(NaN|Infinity)\b/g,
    ': null',
  );
  const manifest = JSON.parse(text);
  for (const model of ['vit-tiny', 'rn-tiny']) {
    const names: string[] = manifest.models[model].state_dict.map((e: { name: string }) => e.name);
    assert.ok(names.length > 50, model);
    for (const name of names) assert.ok(isCanonicalKey(name), `${model}: ${name}`);
  }
});

test('the canonical grammar on hand-picked ResNet and ViT keys, and near misses', () => {
  for (const key of [
    'visual.layer3.5.downsample.1.running_var',
    'visual.attnpool.c_proj.bias',
    'visual.bn2.num_batches_tracked',
    'visual.ln_post.bias',
    'transformer.resblocks.11.attn.out_proj.weight',
    'input_resolution',
  ]) {
    assert.ok(isCanonicalKey(key), key);
  }
  for (const key of [
    'visual.layer5.0.conv1.weight',
    'visual.attnpool.o_proj.weight',
    'transformer.resblocks.0.attn.q_proj.weight',
    'visual.proj.weight',
    'text_projection.weight',
    'ln_final.gamma',
  ]) {
    assert.ok(!isCanonicalKey(key), key);
  }
});
