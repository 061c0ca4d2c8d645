// Chinese-CLIP model parity: every models/<name>.pt with its <name>.config.json beside it is
// loaded and fed the reference inputs stored in outputs/<name>.safetensors (pixel values and
// input ids); features, logits and per-layer activations are compared with the stored outputs.

import { entry } from '../checked.js';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildImageGraph, buildTextGraph } from '../models/clip.js';
import { CLIP } from '../inference/clip.js';
import { normalizeRows } from '../inference/logits.js';
import { inferConfigFromStateDict, type ClipConfig } from '../models/config.js';
import { readConfigFile } from '../models/config-file.js';
import { Session } from '../runtime/session.js';
import { toFloat32, toInt32, type Tensor } from '../tensor.js';
import { readCheckpoint } from '../weights/index.js';
import { toCanonical } from '../weights/keymap/index.js';
import { readSafetensors } from '../weights/safetensors.js';
import { withActivations } from './activations.js';
import { allCloseCheck, checksPerFile, numericCheck, type Check } from './check.js';
import { encodeTextOneByOne, ONE_BY_ONE } from './models.js';

/** The fixture README's suggestion for features, activations and logits: |a - b| ≤ 5e-5 + 5e-5·|b|. */
const ATOL = 5e-5;
const RTOL = 5e-5;

/** Reference activation name → our tap, for a given config. */
function activationNames(cfg: ClipConfig): Record<string, string> {
  const names: Record<string, string> = { 'text.hidden_states.0': 'act.text.embeddings', 'text.cls': 'act.text.cls' };
  for (let i = 0; i < cfg.text.layers; i++) names[`text.hidden_states.${i + 1}`] = `act.text.layer.${i}`;
  if (cfg.vision.kind === 'vit') {
    Object.assign(names, {
      'vision.patch_embeds': 'act.visual.conv1',
      'vision.embeddings': 'act.visual.embeddings',
      'vision.hidden_states.0': 'act.visual.ln_pre',
      'vision.ln_post_cls': 'act.visual.ln_post',
    });
    for (let i = 0; i < cfg.vision.layers; i++)
      names[`vision.hidden_states.${i + 1}`] = `act.visual.transformer.resblocks.${i}`;
  } else {
    names['vision.stem'] = 'act.visual.avgpool';
    cfg.vision.layers.forEach((blocks, s) => {
      names[`vision.layer${s + 1}`] = `act.visual.layer${s + 1}.${blocks - 1}`;
    });
  }
  return names;
}

async function checkModel(dir: string, file: string): Promise<Check[]> {
  const stem = file.replace(/\.pt$/, '');
  const { tensors: ref } = readSafetensors(join(dir, 'outputs', `${stem}.safetensors`));
  const ids = entry(ref, 'text.input_ids');
  const sd = toCanonical(await readCheckpoint(join(dir, 'models', file)));
  const config = inferConfigFromStateDict(sd, {
    ...readConfigFile(join(dir, 'models', `${stem}.config.json`)),
    contextLength: ids.shape[1],
  });
  const model = new CLIP(sd, {}, config);
  const pixels = entry(ref, 'image.pixel_values');
  const images: Tensor = { data: toFloat32(pixels), shape: pixels.shape };
  const tokens: Tensor<Int32Array> = { data: toInt32(ids), shape: ids.shape };
  const checks: Check[] = [];
  const expect = (key: string, ours: ArrayLike<number>, label = key) => {
    const r = ref.get(key);
    if (r) checks.push(allCloseCheck(`${file} ${label}`, ours, r, ATOL, RTOL));
  };
  const img = await model.encodeImage(images);
  const txt = await model.encodeText(tokens);
  const logits = await model.forward(images, tokens);
  // Trailing [PAD] columns are cut per caption, which must not change the features.
  const perCaption = await encodeTextOneByOne(model, tokens);
  await model.release();
  expect('text.embeds', perCaption, `text.embeds ${ONE_BY_ONE}`);
  expect('image.embeds', img.data);
  expect('text.embeds', txt.data);
  expect('image.embeds_normalized', normalizeRows(img).data);
  expect('text.embeds_normalized', normalizeRows(txt).data);
  expect('logits_per_image', logits.logitsPerImage.data);
  expect('logits_per_text', logits.logitsPerText.data);
  const scale = ref.get('logit_scale');
  if (scale) checks.push(numericCheck(`${file} logit_scale`, [model.logitScale], scale, 1e-6));

  const names = activationNames(config);
  for (const [graph, feeds] of [
    [withActivations(buildImageGraph(sd, config), config), { images }],
    [withActivations(buildTextGraph(sd, config), config), { tokens }],
  ] as const) {
    const session = await Session.create(graph);
    const out = await session.run(feeds);
    await session.release();
    for (const [refName, ours] of Object.entries(names)) {
      const r = ref.get(refName);
      const o = out[ours];
      if (!r || !o) continue;
      expect(refName, Array.from((o.data as Float32Array).subarray(0, r.bytes.length / 4)));
    }
  }
  const missing = Object.keys(names).filter((k) => ref.has(k) && !checks.some((c) => c.name === `${file} ${k}`));
  if (missing.length)
    checks.push({
      group: 'model',
      name: `${file} activations`,
      passed: false,
      detail: `not computed: ${missing.join(', ')}`,
    });
  return checks;
}

/** Chinese-CLIP layout: models/<name>.pt + <name>.config.json, outputs with `image.embeds`. */
export async function chineseModelChecks(dir: string): Promise<Check[]> {
  const modelsDir = join(dir, 'models');
  if (!existsSync(modelsDir)) return [];
  const files = readdirSync(modelsDir)
    .filter((f) => f.endsWith('.pt') && existsSync(join(modelsDir, f.replace(/\.pt$/, '.config.json'))))
    .sort();
  return checksPerFile(files, (file) => checkModel(dir, file));
}
