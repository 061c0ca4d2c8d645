// Labelled image sets for evaluation: an ImageFolder (one sub-folder per class, torchvision's
// layout), a CSV of `filepath,label`, or Fashion-MNIST's IDX files; and image-caption pairs for
// retrieval. Each knows a fingerprint of its image bytes, the key of the on-disk feature cache.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InputError } from '../errors.js';
import type { ImageInput } from '../index.js';
import { readCsvSamples, type Sample } from '../train/data.js';
import { imageFolderClasses, readClassNames, readLabelledFolder } from '../train/evaluate.js';
import {
  FASHION_LABELS,
  FASHION_MNIST_DIR,
  fashionFile,
  readFashionSplit,
  type FashionSplitName,
} from './fashion-mnist.js';

export interface LabelledDataset {
  /** Where it came from, for reports: a path, or "fashion-mnist t10k". */
  source: string;
  classes: string[];
  inputs: ImageInput[];
  /** Class index of each input. */
  labels: Int32Array;
  /** sha256 of every image's bytes in order (computed lazily: reading a big folder takes a moment). */
  fingerprint: () => string;
}

/** sha256 over each file's length and bytes, in order. */
function hashFiles(paths: readonly string[]): string {
  const hash = createHash('sha256');
  for (const p of paths) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(p);
    } catch {
      bytes = Buffer.alloc(0);
    } // unreadable: skipped when embedded
    hash.update(`${bytes.length}:`).update(bytes);
  }
  return hash.digest('hex');
}

/**
 * `<dir>/<class>/<image>`; classes are the sorted sub-folder names unless `<dir>/classes.txt`
 * renames them (line i names the i-th sorted sub-folder, e.g. ImageNet's n01440764 → tench).
 */
export function readImageFolder(dir: string): LabelledDataset {
  const items = readLabelledFolder(dir);
  const inputs = items.map((i) => i.image);
  return { source: dir, ...imageFolderClasses(dir, items), inputs, fingerprint: () => hashFiles(inputs) };
}

/**
 * A CSV/TSV with `filepath` and `label` columns (paths relative to the file). Classes are the
 * sorted distinct labels, or the lines of a `classes.txt` beside the file, in which case a
 * label is one of those names or a 0-based index into them.
 */
export function readLabelCsv(path: string, columns: { imageKey?: string; labelKey?: string } = {}): LabelledDataset {
  const rows = readCsvSamples(path, {
    imageKey: columns.imageKey ?? 'filepath',
    captionKey: columns.labelKey ?? 'label',
  });
  if (rows.length === 0) throw new InputError(`${path}: no rows`);
  const namesFile = join(dirname(path), 'classes.txt');
  const classes = existsSync(namesFile)
    ? readClassNames(namesFile)
    : [...new Set(rows.map((r) => r.caption.trim()))].sort();
  const index = new Map(classes.map((c, i) => [c, i]));
  const labels = Int32Array.from(rows, (r, row) => {
    const label = r.caption.trim();
    const byIndex = /^\d+$/.test(label) && !index.has(label) ? Number(label) : undefined;
    const found = byIndex !== undefined && byIndex < classes.length ? byIndex : index.get(label);
    if (found === undefined)
      throw new InputError(
        `${path}: row ${row + 2} has label "${label}", not one of the ${classes.length} classes in ${namesFile}`,
      );
    return found;
  });
  const inputs = rows.map((r) => r.image);
  return { source: path, classes, inputs, labels, fingerprint: () => hashFiles(inputs) };
}

/** A folder, or a .csv/.tsv file. */
export function readLabelledDataset(path: string): LabelledDataset {
  if (!existsSync(path))
    throw new InputError(`${path}: no such dataset (expected an ImageFolder directory or a filepath,label CSV)`);
  return /\.(csv|tsv)$/i.test(path) ? readLabelCsv(path) : readImageFolder(path);
}

/** A Fashion-MNIST split as raw 28×28 gray pixels (CLIP's preprocessing replicates them to RGB). */
export function readFashionMnist(split: FashionSplitName, dir = FASHION_MNIST_DIR): LabelledDataset {
  const { pixels, labels, count } = readFashionSplit(split, dir);
  const P = 28 * 28;
  const inputs: ImageInput[] = Array.from({ length: count }, (_, r) => ({
    width: 28,
    height: 28,
    channels: 1 as const,
    data: pixels.subarray(r * P, (r + 1) * P),
  }));
  return {
    source: `fashion-mnist ${split}`,
    classes: [...FASHION_LABELS],
    inputs,
    labels: Int32Array.from(labels),
    fingerprint: () => hashFiles([fashionFile(dir, split, 'images')]),
  };
}

/** The first `n` items (all when n is undefined). */
export function firstItems(data: LabelledDataset, n: number | undefined): LabelledDataset {
  if (n === undefined || n >= data.inputs.length) return data;
  return {
    ...data,
    inputs: data.inputs.slice(0, n),
    labels: data.labels.slice(0, n),
    fingerprint: () => `${data.fingerprint()}:first${n}`,
  };
}

export interface CaptionedImages {
  source: string;
  /** Distinct images, in order of first appearance. */
  images: string[];
  texts: string[];
  /** Index into `images` of each text. */
  textImage: number[];
  fingerprint: () => string;
}

/** Pairs grouped by image: a CSV with `filepath,title` (as `clip train --csv`), an image repeated for more captions. */
export function readCaptionPairs(
  path: string,
  columns: { imageKey?: string; captionKey?: string } = {},
): CaptionedImages {
  const rows: Sample[] = readCsvSamples(path, columns);
  if (rows.length === 0) throw new InputError(`${path}: no pairs`);
  const images: string[] = [];
  const index = new Map<string, number>();
  const textImage = rows.map((r) => {
    let i = index.get(r.image);
    if (i === undefined) {
      i = images.length;
      images.push(r.image);
      index.set(r.image, i);
    }
    return i;
  });
  return { source: path, images, texts: rows.map((r) => r.caption), textImage, fingerprint: () => hashFiles(images) };
}
