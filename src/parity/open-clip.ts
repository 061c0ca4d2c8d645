// open_clip parity, on a folder laid out like ../shared/fixtures/open-clip: models written by the
// open_clip library itself, as hub folders (models/<name>/open_clip_config.json + weights) and as
// training checkpoints (checkpoints/<name>/epoch_N.pt, opened with models/<name>'s config), each
// against outputs/<name>.safetensors (computed by open_clip). Per model:
//   - the captions through load()'s tokenizer (truncating) give open_clip's token ids exactly;
//   - load()'s towers on the stored pixel values and token ids give its features (after L2
//     normalisation, within 1e-4, the fixture's tolerance);
//   - `clip embed --truncate --normalize` on the image files and captions gives them too.

import { at, entry } from '../checked.js';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load } from '../load.js';
import { normalizeRows } from '../inference/logits.js';
import { toFloat32, toInt32, type RawTensor, type Tensor } from '../tensor.js';
import { DEFAULT_BPE_FILE } from '../text/vocab.js';
import { findMergesFile } from '../zoo/tokenizer.js';
import { readSafetensors } from '../weights/safetensors.js';
import { compareArrays, metadataList, type Check } from './check.js';

const GROUP = 'open-clip';
/** The fixture README: features match when, after L2 normalisation, every element is within 1e-4. */
const FEATURE_TOL = 1e-4;
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');

interface Model {
  /** What the checks are named after, e.g. "oc-pub-vit-gelu" or "oc-pub-vit-gelu/epoch_2.pt". */
  label: string;
  /** The hub folder or the checkpoint file. */
  path: string;
  /** The config for a training checkpoint (the hub folder's open_clip_config.json). */
  config?: string;
  outputs: string;
}

/** Hub folders with reference outputs, and the training checkpoints of those models. */
function modelsIn(dir: string): Model[] {
  const modelsDir = join(dir, 'models');
  if (!existsSync(modelsDir)) return [];
  const models: Model[] = [];
  for (const name of readdirSync(modelsDir).sort()) {
    const config = join(modelsDir, name, 'open_clip_config.json');
    const outputs = join(dir, 'outputs', `${name}.safetensors`);
    if (!existsSync(config) || !existsSync(outputs)) continue;
    models.push({ label: name, path: join(modelsDir, name), outputs });
    const checkpoints = join(dir, 'checkpoints', name);
    if (!existsSync(checkpoints)) continue;
    for (const file of readdirSync(checkpoints)
      .filter((f) => f.endsWith('.pt'))
      .sort()) {
      models.push({ label: `${name}/${file}`, path: join(checkpoints, file), config, outputs });
    }
  }
  return models;
}

/**
 * open_clip's merges file (its bundled bpe_simple_vocab_16e6.txt.gz): in the folder, else in the
 * sibling openai-clip folder (the README says it is byte-identical there), else the default lookup;
 * it must have the sha256 manifest.json names.
 */
function mergesFile(dir: string): string {
  const expected = (JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { bpe_vocab_sha256?: string })
    .bpe_vocab_sha256;
  const candidates = [join(dir, DEFAULT_BPE_FILE), join(dir, '..', 'openai-clip', DEFAULT_BPE_FILE)].filter((p) =>
    existsSync(p),
  );
  if (candidates.length === 0) candidates.push(findMergesFile());
  const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
  const found = candidates.find((p) => expected === undefined || sha(p) === expected);
  if (!found) throw new Error(`no ${DEFAULT_BPE_FILE} with sha256 ${expected} (looked at ${candidates.join(', ')})`);
  return found;
}

/** A check of our L2-normalised rows against the reference's normalised rows. */
function featureCheck(name: string, ours: Tensor, ref: RawTensor): Check {
  const expected = normalizeRows({ data: toFloat32(ref), shape: ref.shape });
  const { maxAbs, maxRel } = compareArrays(normalizeRows(ours).data, expected.data);
  return {
    group: GROUP,
    name,
    passed: maxAbs <= FEATURE_TOL,
    maxAbs,
    maxRel,
    detail: `after L2 normalisation, tol ${FEATURE_TOL}`,
  };
}

/** `clip embed --truncate --normalize` on the files: image and text embeddings by input. */
function cliEmbeddings(
  model: Model,
  bpe: string,
  images: string[],
  captions: string[],
): { images: Tensor; texts: Tensor } {
  const args = [
    CLI,
    'embed',
    '-m',
    model.path,
    '--bpe',
    bpe,
    '--truncate',
    '--normalize',
    ...images,
    '-t',
    ...captions,
  ];
  if (model.config) args.push('--model-config', model.config);
  const run = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 300_000, maxBuffer: 64 << 20 });
  if (run.status !== 0) throw new Error(`clip embed exited ${run.status}: ${run.stderr.trim().split('\n').pop()}`);
  const rows = run.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { image?: string; text?: string; embedding: number[] });
  const byImage = new Map(rows.filter((r) => r.image !== undefined).map((r) => [r.image, r.embedding]));
  const imageRows = images.map((p) => byImage.get(p) ?? []);
  const textRows = rows.filter((r) => r.text !== undefined).map((r) => r.embedding);
  if (imageRows.some((r) => r.length === 0) || textRows.length !== captions.length) {
    throw new Error(
      `clip embed printed ${byImage.size} image and ${textRows.length} text embeddings for ${images.length} and ` +
        `${captions.length} inputs`,
    );
  }
  const stack = (list: number[][]): Tensor => ({
    data: Float32Array.from(list.flat()),
    shape: [list.length, at(list, 0).length],
  });
  return { images: stack(imageRows), texts: stack(textRows) };
}

async function checkModel(dir: string, model: Model, bpe: string): Promise<Check[]> {
  const { tensors: ref, metadata } = readSafetensors(model.outputs);
  const captions = metadataList(metadata, 'captions', model.outputs);
  const imageFiles = metadataList(metadata, 'image_order', model.outputs).map((f) => join(dir, 'images', f));
  const clip = await load(model.path, { bpePath: bpe, ...(model.config ? { config: model.config } : {}) });
  const checks: Check[] = [];
  try {
    const refTokens = toInt32(entry(ref, 'tokens'));
    const tokens = clip.tokenize(captions, { truncate: true });
    const wrong = refTokens.findIndex((id, i) => tokens.data[i] !== id);
    checks.push({
      group: GROUP,
      name: `${model.label} tokens`,
      passed: wrong < 0 && tokens.data.length === refTokens.length,
      detail:
        wrong < 0
          ? `${captions.length} captions, exact`
          : `first difference in caption ${Math.floor(wrong / at(tokens.shape, 1))}`,
    });
    const pixels = entry(ref, 'pixel_values');
    const images = await clip.model.encodeImage({ data: toFloat32(pixels), shape: pixels.shape });
    checks.push(featureCheck(`${model.label} image_features (reference pixels)`, images, entry(ref, 'image_features')));
    const texts = await clip.model.encodeText({ data: refTokens, shape: entry(ref, 'tokens').shape });
    checks.push(featureCheck(`${model.label} text_features (reference tokens)`, texts, entry(ref, 'text_features')));
  } finally {
    await clip.model.release();
  }
  const cli = cliEmbeddings(model, bpe, imageFiles, captions);
  checks.push(
    featureCheck(`${model.label} clip embed --truncate: image files`, cli.images, entry(ref, 'image_features')),
  );
  checks.push(featureCheck(`${model.label} clip embed --truncate: captions`, cli.texts, entry(ref, 'text_features')));
  return checks;
}

export async function openClipChecks(dir: string): Promise<Check[]> {
  const models = modelsIn(dir);
  if (models.length === 0) return [];
  const checks: Check[] = [];
  let bpe: string;
  try {
    bpe = mergesFile(dir);
  } catch (e) {
    return [{ group: GROUP, name: 'tokenizer merges', passed: false, detail: (e as Error).message }];
  }
  for (const model of models) {
    try {
      checks.push(...(await checkModel(dir, model, bpe)));
    } catch (e) {
      checks.push({ group: GROUP, name: model.label, passed: false, detail: `failed: ${(e as Error).message}` });
    }
  }
  return checks;
}
