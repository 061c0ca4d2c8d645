// Evaluation while training: zero-shot top-1 accuracy on a labelled image folder (one subfolder
// per label, prompts "a photo of a {}.") and text↔image retrieval recall@K on held-out pairs,
// computed with whatever weights the given CLIP model holds.

import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { dotRows, retrievalRanks } from '../metrics.js';
import { preprocessBatch } from '../image/index.js';
import { normalizeRows } from '../inference/logits.js';
import type { CLIP } from '../inference/clip.js';
import type { Tensor } from '../tensor.js';
import { zeroShotClassifier } from '../zeroshot/classifier.js';
import { SINGLE_TEMPLATE } from '../zeroshot/templates.js';
import type { Sample } from './data.js';
import { at, first } from '../checked.js';

export interface LabelledImage {
  image: string;
  label: string;
}

export type Tokenize = (texts: readonly string[]) => Tensor<Int32Array>;

/** Images encoded per ONNX Runtime call: bounds memory on large evaluation sets. */
const CHUNK = 64;

/**
 * Every file under the subfolders of `dir` (recursively, following symbolic links, as
 * torchvision's ImageFolder), labelled by its top subfolder's name; sorted, hidden files left
 * out. Files that are not images fail to decode at evaluation time and are counted as skipped.
 */
export function readLabelledFolder(dir: string): LabelledImage[] {
  const out: LabelledImage[] = [];
  const isDirectory = (path: string) => statSync(path, { throwIfNoEntry: false })?.isDirectory() === true;
  const seen = new Set<string>(); // real paths of the folders walked, so a link cycle ends
  const filesUnder = (folder: string): string[] => {
    const real = realpathSync(folder);
    if (seen.has(real)) return [];
    seen.add(real);
    return readdirSync(folder)
      .filter((name) => !name.startsWith('.'))
      .sort()
      .flatMap((name) => {
        const path = join(folder, name);
        return isDirectory(path) ? filesUnder(path) : statSync(path, { throwIfNoEntry: false })?.isFile() ? [path] : [];
      });
  };
  for (const sub of readdirSync(dir)
    .filter((name) => isDirectory(join(dir, name)))
    .sort()) {
    for (const image of filesUnder(join(dir, sub))) out.push({ image, label: sub });
  }
  if (out.length === 0) throw new InputError(`${dir}: no images in subfolders (expected <dir>/<label>/<image>)`);
  return out;
}

/** A `classes.txt`: one class name per non-empty line, trimmed. */
export function readClassNames(path: string): string[] {
  return readFileSync(path, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
}

/**
 * The classes of an ImageFolder read by readLabelledFolder: the sorted sub-folder names, unless
 * `<dir>/classes.txt` renames them (line i names the i-th sorted sub-folder, e.g. ImageNet's
 * n01440764 → tench); and each image's class index.
 */
export function imageFolderClasses(
  dir: string,
  items: readonly LabelledImage[],
): { classes: string[]; labels: Int32Array } {
  const folders = [...new Set(items.map((i) => i.label))].sort();
  const namesFile = join(dir, 'classes.txt');
  const classes = existsSync(namesFile) ? readClassNames(namesFile) : folders;
  if (classes.length !== folders.length) {
    throw new InputError(
      `${namesFile}: ${classes.length} class names for ${folders.length} sub-folders ` +
        '(one line per sorted sub-folder expected)',
    );
  }
  return { classes, labels: Int32Array.from(items, (i) => folders.indexOf(i.label)) };
}

/** Image features [N, embedDim] of the readable images, and which inputs they are. */
async function encodeImages(
  model: CLIP,
  images: readonly string[],
  workers?: number,
): Promise<{ features: Tensor; indices: number[]; skipped: number }> {
  const size = model.config.vision.imageResolution;
  const parts: Float32Array[] = [];
  const indices: number[] = [];
  let skipped = 0;
  for (let start = 0; start < images.length; start += CHUNK) {
    const batch = await preprocessBatch(images.slice(start, start + CHUNK), {
      size,
      ...(workers ? { concurrency: workers } : {}),
    });
    skipped += batch.failures.length;
    indices.push(...batch.indices.map((i) => start + i));
    parts.push((await model.encodeImage(batch.tensor)).data);
  }
  return { features: concatRows(parts, model.config.embedDim), indices, skipped };
}

async function encodeTexts(model: CLIP, tokenize: Tokenize, texts: readonly string[]): Promise<Tensor> {
  const parts: Float32Array[] = [];
  for (let start = 0; start < texts.length; start += CHUNK)
    parts.push((await model.encodeText(tokenize(texts.slice(start, start + CHUNK)))).data);
  return concatRows(parts, model.config.embedDim);
}

function concatRows(parts: Float32Array[], width: number): Tensor {
  const data = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    data.set(p, offset);
    offset += p.length;
  }
  return { data, shape: [data.length / width, width] };
}

export interface ZeroShotResult {
  /** Fraction of the readable images whose most probable label is their folder's. */
  top1: number;
  images: number;
  skipped: number;
}

/** Zero-shot top-1 accuracy, the labels being the distinct labels of `images`, one prompt each: "a photo of a {}.". */
export async function zeroShotAccuracy(
  model: CLIP,
  tokenize: Tokenize,
  images: readonly LabelledImage[],
  workers?: number,
): Promise<ZeroShotResult> {
  const labels = [...new Set(images.map((i) => i.label))].sort();
  const classifier = await zeroShotClassifier(model, tokenize, labels, { templates: SINGLE_TEMPLATE });
  const { features, indices, skipped } = await encodeImages(
    model,
    images.map((i) => i.image),
    workers,
  );
  const predictions = await classifier.classify(features, 1);
  const correct = indices.filter((input, row) => first(at(predictions, row)).label === at(images, input).label).length;
  return { top1: indices.length ? correct / indices.length : 0, images: indices.length, skipped };
}

/** Recall@K both ways, by K. */
export interface Recall {
  imageToText: Record<number, number>;
  textToImage: Record<number, number>;
}

/**
 * Recall@K from a similarity matrix [n images, n texts] whose diagonal holds the matching pairs:
 * a query counts as found at K when fewer than K candidates score strictly higher than its match.
 */
export function recallAtK(similarity: Float32Array, n: number, ks: readonly number[]): Recall {
  const ranks = retrievalRanks(similarity, n, [...Array(n).keys()]);
  const recall = (r: number[]) => Object.fromEntries(ks.map((k) => [k, n ? r.filter((x) => x < k).length / n : 0]));
  return { imageToText: recall(ranks.imageToText), textToImage: recall(ranks.textToImage) };
}

export interface RetrievalResult extends Recall {
  pairs: number;
  skipped: number;
}

/** Text↔image recall@K over held-out pairs (pairs whose image is unreadable are left out and counted). */
export async function retrievalRecall(
  model: CLIP,
  tokenize: Tokenize,
  pairs: readonly Sample[],
  ks: readonly number[] = [1, 5],
  workers?: number,
): Promise<RetrievalResult> {
  const { features, indices, skipped } = await encodeImages(
    model,
    pairs.map((p) => p.image),
    workers,
  );
  const images = normalizeRows(features);
  const texts = normalizeRows(
    await encodeTexts(
      model,
      tokenize,
      indices.map((i) => at(pairs, i).caption),
    ),
  );
  const n = indices.length;
  const similarity = dotRows(images.data, texts.data, model.config.embedDim);
  return { ...recallAtK(similarity, n, ks), pairs: n, skipped };
}

export interface EvalResult {
  zeroShot?: ZeroShotResult;
  retrieval?: RetrievalResult;
}

/** Whichever evaluations have data: zero-shot on `labelled`, retrieval on `pairs`. */
export async function evaluateClip(
  model: CLIP,
  tokenize: Tokenize,
  data: { labelled?: readonly LabelledImage[]; pairs?: readonly Sample[] },
  workers?: number,
): Promise<EvalResult> {
  const out: EvalResult = {};
  if (data.labelled) out.zeroShot = await zeroShotAccuracy(model, tokenize, data.labelled, workers);
  if (data.pairs) out.retrieval = await retrievalRecall(model, tokenize, data.pairs, [1, 5], workers);
  return out;
}
