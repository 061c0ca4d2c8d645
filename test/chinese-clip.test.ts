// Chinese-CLIP without fixtures: config inference for a BERT text tower, the key adapters for the
// training and Hugging Face layouts, config files, and properties of the BERT tower (pooling at
// [CLS], [PAD] keys masked so trailing padding can be cut exactly).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../src/errors.js';
import { CLIP } from '../src/inference/clip.js';
import { trimPadding } from '../src/inference/text-buckets.js';
import { inferConfigFromStateDict, type ClipConfig } from '../src/models/config.js';
import { configOverridesFromJson, readConfigFile } from '../src/models/config-file.js';
import { randomStateDict } from '../src/models/random.js';
import { fromFloat32, type StateDict } from '../src/tensor.js';
import { toCanonical } from '../src/weights/keymap/index.js';
import { TINY_BERT } from './tiny-configs.js';

const TINY_CN: ClipConfig = {
  embedDim: 16,
  vision: { kind: 'vit', width: 64, layers: 1, heads: 1, patchSize: 8, imageResolution: 16 },
  text: TINY_BERT,
  activation: 'quick_gelu',
};

test('a bert.* text tower is inferred as Chinese-CLIP BERT; heads and context length come from overrides', () => {
  const sd = randomStateDict(TINY_CN, 1);
  const inferred = inferConfigFromStateDict(sd, { textHeads: 2, contextLength: 12 });
  assert.deepEqual(inferred, TINY_CN);
  assert.equal((inferConfigFromStateDict(sd).text as { heads: number }).heads, 1, 'default heads = width / 64');
  assert.equal(inferConfigFromStateDict(sd).text.contextLength, 52, 'default context = 52 (every released model)');
});

test('training layout: module. prefix and bert.pooler are dropped; HF ChineseCLIPModel names are mapped', () => {
  const sd = randomStateDict(TINY_CN, 2);
  const training: StateDict = new Map([...sd].map(([k, t]) => [`module.${k}`, t]));
  training.set('module.bert.pooler.dense.weight', fromFloat32(new Float32Array(64 * 64), [64, 64]));
  assert.deepEqual([...toCanonical(training).keys()].sort(), [...sd.keys()].sort());

  // The same weights under HF ChineseCLIPModel names (text tower: text_model.<BERT names>; projections as nn.Linear).
  const hf: StateDict = new Map();
  const transpose = (key: string) => {
    const t = sd.get(key)!;
    const [r, c] = t.shape as [number, number];
    const src = new Float32Array(t.bytes.buffer, t.bytes.byteOffset, r * c);
    const out = new Float32Array(r * c);
    for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = src[i * c + j]!;
    return fromFloat32(out, [c, r]);
  };
  for (const [k, t] of sd) if (k.startsWith('bert.')) hf.set(`text_model.${k.slice(5)}`, t);
  hf.set('text_projection.weight', transpose('text_projection'));
  hf.set('visual_projection.weight', transpose('visual.proj'));
  hf.set('logit_scale', sd.get('logit_scale')!);
  const v = (name: string) => sd.get(`visual.${name}`)!;
  hf.set('vision_model.embeddings.patch_embedding.weight', v('conv1.weight'));
  hf.set('vision_model.embeddings.class_embedding', v('class_embedding'));
  hf.set('vision_model.embeddings.position_embedding.weight', v('positional_embedding'));
  for (const [hfName, ours] of [
    ['pre_layrnorm', 'ln_pre'],
    ['post_layernorm', 'ln_post'],
  ]) {
    hf.set(`vision_model.${hfName}.weight`, v(`${ours}.weight`));
    hf.set(`vision_model.${hfName}.bias`, v(`${ours}.bias`));
  }
  const block = 'visual.transformer.resblocks.0';
  const rows = (key: string, part: number, n: number) => {
    const t = sd.get(key)!;
    const per = t.bytes.length / 3;
    return {
      dtype: t.dtype,
      shape: n === 1 ? [t.shape[0]! / 3] : [t.shape[0]! / 3, t.shape[1]!],
      bytes: t.bytes.slice(part * per, (part + 1) * per),
    };
  };
  ['q', 'k', 'v'].forEach((name, i) => {
    hf.set(`vision_model.encoder.layers.0.self_attn.${name}_proj.weight`, rows(`${block}.attn.in_proj_weight`, i, 2));
    hf.set(`vision_model.encoder.layers.0.self_attn.${name}_proj.bias`, rows(`${block}.attn.in_proj_bias`, i, 1));
  });
  for (const [hfName, ours] of [
    ['layer_norm1', 'ln_1'],
    ['layer_norm2', 'ln_2'],
    ['self_attn.out_proj', 'attn.out_proj'],
    ['mlp.fc1', 'mlp.c_fc'],
    ['mlp.fc2', 'mlp.c_proj'],
  ]) {
    for (const p of ['weight', 'bias'])
      hf.set(`vision_model.encoder.layers.0.${hfName}.${p}`, sd.get(`${block}.${ours}.${p}`)!);
  }
  const mapped = toCanonical(hf);
  assert.deepEqual([...mapped.keys()].sort(), [...sd.keys()].sort());
  for (const [k, t] of sd) assert.deepEqual(Buffer.from(mapped.get(k)!.bytes), Buffer.from(t.bytes), k);
});

test('config files: the cn_clip schema and HF config.json give heads; other activations are refused', () => {
  assert.deepEqual(
    configOverridesFromJson({
      vision_width: 1280,
      vision_head_width: 80,
      vision_patch_size: 14,
      text_num_attention_heads: 16,
    }),
    { textHeads: 16, visionHeads: 16 },
  );
  assert.deepEqual(
    configOverridesFromJson({
      vision_width: 64,
      vision_head_width: 64,
      vision_patch_size: null,
      text_num_attention_heads: 2,
    }),
    { textHeads: 2 },
  );
  assert.deepEqual(
    configOverridesFromJson({
      text_config: { num_attention_heads: 12 },
      vision_config: { num_attention_heads: 16, hidden_size: 1280 },
    }),
    { textHeads: 12, visionHeads: 16 },
  );
  // The MLP activation: open_clip configs use GELU unless quick_gelu (open-clip.test.ts reads them
  // fully); HF configs say it per tower.
  assert.equal(configOverridesFromJson({ model_cfg: { embed_dim: 512 } }).activation, 'gelu');
  assert.equal(configOverridesFromJson({ model_cfg: { embed_dim: 512, quick_gelu: true } }).activation, 'quick_gelu');
  assert.deepEqual(
    configOverridesFromJson({ text_config: { hidden_act: 'gelu' }, vision_config: { hidden_act: 'quick_gelu' } }),
    {},
  );
  assert.deepEqual(configOverridesFromJson({ vision_config: { hidden_act: 'gelu' } }), { activation: 'gelu' });
  assert.throws(
    () => configOverridesFromJson({ text_hidden_act: 'relu' }, 'x.json'),
    (e: Error) => e instanceof ConfigError && /x\.json: text_hidden_act "relu"/.test(e.message),
  );
  const dir = mkdtempSync(join(tmpdir(), 'clip-cfg-'));
  try {
    writeFileSync(join(dir, 'bad.json'), '{ not json');
    assert.throws(() => readConfigFile(join(dir, 'bad.json')), /bad\.json: not a readable JSON model config/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('BERT tower: trailing [PAD] columns change nothing, real tokens do', async () => {
  const model = new CLIP(randomStateDict(TINY_CN, 3), {}, TINY_CN);
  const row = (ids: number[]) => {
    const r = new Int32Array(12);
    r.set(ids);
    return r;
  };
  const data = new Int32Array([...row([1, 5, 6, 2]), ...row([1, 7, 2]), ...row([1, 5, 9, 2])]);
  const batch = { data, shape: [3, 12] };
  assert.deepEqual(trimPadding(batch, 'bert').shape, [3, 4]);
  const all = await model.encodeText(batch);
  const first = await model.encodeText({ data: data.slice(0, 12), shape: [1, 12] });
  for (let i = 0; i < 16; i++)
    assert.ok(Math.abs(all.data[i]! - first.data[i]!) < 1e-5, 'batching/trimming changed a feature');
  assert.ok(
    [...Array(16).keys()].some((i) => Math.abs(all.data[i]! - all.data[32 + i]!) > 1e-4),
    'a different token must change the feature',
  );
  await model.release();
});
