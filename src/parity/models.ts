// Model parity: every checkpoint under <dir>/models/ is loaded, fed the stored reference inputs
// (preprocessed images and token ids, so this does not depend on our tokenizer or preprocessing),
// and its features, logits and per-layer activations are compared with <dir>/outputs/<model>.

import { at, entry, first } from '../checked.js';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildImageGraph, buildTextGraph } from '../models/clip.js';
import { CLIP } from '../inference/clip.js';
import { normalizeRows } from '../inference/logits.js';
import { Session } from '../runtime/session.js';
import { numel, toFloat32, toInt32, type StateDict, type Tensor } from '../tensor.js';
import { readCheckpoint } from '../weights/index.js';
import { readSafetensors } from '../weights/safetensors.js';
import { withActivations } from './activations.js';
import { checksPerFile, metadataList, numericCheck, type Check } from './check.js';

/** Tolerances from the fixture README: features/activations 1e-4 (or 1e-4 relative), logits 1e-3. */
const FEATURE_TOL = 1e-4;
const LOGIT_TOL = 1e-3;

/** The first `rows` rows of an [N, ...] tensor's data. */
function firstRows(t: Tensor<Float32Array | Int32Array | BigInt64Array | Uint8Array>, rows: number): number[] {
  const per = numel(t.shape.slice(1));
  return Array.from(t.data.subarray(0, rows * per) as ArrayLike<number | bigint>, Number);
}

export const ONE_BY_ONE = '(one caption at a time, padding trimmed)';

/** Text features with each caption run alone, so each runs on its own length (its padding cut off). */
export async function encodeTextOneByOne(model: CLIP, tokens: Tensor<Int32Array>): Promise<Float32Array> {
  const L = at(tokens.shape, 1);
  const out = new Float32Array(at(tokens.shape, 0) * model.config.embedDim);
  for (let r = 0; r < at(tokens.shape, 0); r++) {
    const one = await model.encodeText({ data: tokens.data.slice(r * L, (r + 1) * L), shape: [1, L] });
    out.set(one.data, r * one.data.length);
  }
  return out;
}

function stackImages(pre: StateDict, order: string[], res: number): Tensor {
  const size = 3 * res * res;
  const data = new Float32Array(order.length * size);
  order.forEach((key, i) => {
    const t = pre.get(key);
    if (!t) throw new Error(`preprocess/${res}.safetensors has no image "${key}"`);
    data.set(toFloat32(t), i * size);
  });
  return { data, shape: [order.length, 3, res, res] };
}

async function checkModelFile(dir: string, file: string): Promise<Check[]> {
  const modelName = first(file.split('.'));
  const outputsPath = join(dir, 'outputs', `${modelName}.safetensors`);
  if (!existsSync(outputsPath))
    return [{ group: 'model', name: `${file}`, passed: false, detail: `no reference outputs at ${outputsPath}` }];
  const { tensors: ref, metadata } = readSafetensors(outputsPath);
  if (metadata.image_order === undefined) return []; // not OpenAI-style outputs (e.g. Chinese-CLIP: chinese-models.ts)
  const sd = await readCheckpoint(join(dir, 'models', file));
  const model = new CLIP(sd);
  const res = model.config.vision.imageResolution;
  const order = metadataList(metadata, 'image_order', outputsPath);
  const images = stackImages(readSafetensors(join(dir, 'preprocess', `${res}.safetensors`)).tensors, order, res);
  const tokensRef = entry(ref, 'tokens');
  const tokens: Tensor<Int32Array> = { data: toInt32(tokensRef), shape: tokensRef.shape };
  const checks: Check[] = [];
  const expect = (key: string, ours: ArrayLike<number>, tol: number, relative = false) => {
    const r = ref.get(key);
    if (r) checks.push(numericCheck(`${file} ${key}`, ours, r, tol, relative));
  };

  const imageFeatures = await model.encodeImage(images);
  const textFeatures = await model.encodeText(tokens);
  const logits = await model.forward(images, tokens);
  expect('image_features', imageFeatures.data, FEATURE_TOL);
  expect('text_features', textFeatures.data, FEATURE_TOL);
  expect('image_features_normalized', normalizeRows(imageFeatures).data, FEATURE_TOL);
  expect('text_features_normalized', normalizeRows(textFeatures).data, FEATURE_TOL);
  expect('logits_per_image', logits.logitsPerImage.data, LOGIT_TOL);
  expect('logits_per_text', logits.logitsPerText.data, LOGIT_TOL);
  expect('logit_scale', [model.logitScale], 1e-6);
  const r = ref.get('text_features');
  if (r)
    checks.push(
      numericCheck(`${file} text_features ${ONE_BY_ONE}`, await encodeTextOneByOne(model, tokens), r, FEATURE_TOL),
    );
  await model.release();

  // Per-layer activations: graphs that also output every reference activation (activations.ts).
  for (const [graph, feeds] of [
    [withActivations(buildImageGraph(sd, model.config), model.config), { images }],
    [withActivations(buildTextGraph(sd, model.config), model.config), { tokens }],
  ] as const) {
    const session = await Session.create(graph);
    const out = await session.run(feeds);
    await session.release();
    for (const [key, r] of ref) {
      const activation = key.startsWith('act.') ? out[key] : undefined;
      if (!activation) continue;
      const ours = firstRows(activation, at(r.shape, 0));
      checks.push(numericCheck(`${file} ${key}`, ours, r, key.endsWith('eot_index') ? 0 : FEATURE_TOL, true));
    }
  }
  const missing = [...ref.keys()].filter((k) => k.startsWith('act.') && !checks.some((c) => c.name === `${file} ${k}`));
  if (missing.length)
    checks.push({
      group: 'model',
      name: `${file} activations`,
      passed: false,
      detail: `no activation computed for ${missing.join(', ')}`,
    });
  return checks;
}

/** Checks every checkpoint file under <dir>/models/ that has reference outputs. */
export async function modelChecks(dir: string): Promise<Check[]> {
  const modelsDir = join(dir, 'models');
  if (!existsSync(modelsDir)) return [];
  const files = readdirSync(modelsDir)
    .filter((f) => /\.(pt|pth|bin|safetensors)$/.test(f))
    .sort();
  return checksPerFile(files, (file) => checkModelFile(dir, file));
}
