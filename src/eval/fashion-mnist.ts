// Fashion-MNIST as Debian's `dataset-fashion-mnist` ships it: gzipped IDX files (60,000 training
// and 10,000 test images of 28×28 grayscale clothing, 10 classes), read directly.

import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { InputError } from '../errors.js';

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** The dataset's classes in label order, named as a caption would name them. */
export const FASHION_LABELS = [
  't-shirt',
  'trousers',
  'pullover',
  'dress',
  'coat',
  'sandal',
  'shirt',
  'sneaker',
  'bag',
  'ankle boot',
];

export type FashionSplitName = 'train' | 't10k';

export interface FashionSplit {
  /** [n·28·28] bytes, row-major images. */
  pixels: Uint8Array;
  labels: Uint8Array;
  count: number;
}

/** One idx file (optionally gzipped): big-endian magic 0x0000 08 <rank>, the dims, then uint8 data. */
export function readIdx(path: string, rank: number): { dims: number[]; data: Uint8Array } {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new InputError(
      `${path}: cannot read the idx file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  if (bytes.length < 4 + 4 * rank) throw new InputError(`${path}: ${bytes.length} bytes, too short for an idx header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  const expected = 0x0800 + rank;
  if (magic !== expected) {
    throw new InputError(
      `${path}: idx magic 0x${magic.toString(16)}, expected 0x${expected.toString(16)} (uint8, ${rank} dims)`,
    );
  }
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const data = bytes.subarray(4 + 4 * rank);
  if (data.length !== dims.reduce((a, b) => a * b, 1)) {
    throw new InputError(`${path}: ${data.length} data bytes for dims [${dims.join(', ')}]`);
  }
  return { dims, data };
}

/** The file holding a split's images or labels. */
export function fashionFile(dir: string, split: FashionSplitName, part: 'images' | 'labels'): string {
  return `${dir}/${split}-${part}-idx${part === 'images' ? 3 : 1}-ubyte.gz`;
}

/** The `train` or `t10k` split from the Debian package's folder. */
export function readFashionSplit(split: FashionSplitName, dir = FASHION_MNIST_DIR): FashionSplit {
  const images = readIdx(fashionFile(dir, split, 'images'), 3);
  const labels = readIdx(fashionFile(dir, split, 'labels'), 1);
  if (images.dims[1] !== 28 || images.dims[2] !== 28 || images.dims[0] !== labels.dims[0]) {
    throw new InputError(
      `${dir}: ${split} images [${images.dims.join(', ')}] and ${labels.dims[0]} labels, ` +
        'expected [n, 28, 28] and n labels',
    );
  }
  const bad = labels.data.findIndex((l) => l >= FASHION_LABELS.length);
  if (bad >= 0)
    throw new InputError(
      `${fashionFile(dir, split, 'labels')}: label ${labels.data[bad]} at row ${bad}, expected 0..9`,
    );
  return { pixels: images.data, labels: labels.data, count: labels.data.length };
}
