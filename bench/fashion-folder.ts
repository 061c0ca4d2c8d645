// Fashion-MNIST as an ImageFolder of PNG files (<out>/<class>/<row>.png), for the commands that
// read image files: `clip train --folder-classes` (fine-tuning from labels) and `clip eval`
// on a folder. The first `--per-class` images of each class in the split's order.
//
//   node dist/bench/fashion-folder.js --out /tmp/fashion-train [--split train] [--per-class 1000]

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import {
  FASHION_LABELS,
  FASHION_MNIST_DIR,
  readFashionSplit,
  type FashionSplitName,
} from '../src/eval/fashion-mnist.js';

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    split: { type: 'string', default: 'train' },
    'per-class': { type: 'string', default: '1000' },
    data: { type: 'string', default: FASHION_MNIST_DIR },
  },
});
if (!values.out) throw new Error('--out <dir> is required');
const split = readFashionSplit(values.split as FashionSplitName, values.data);
const perClass = Number(values['per-class']);
const written = FASHION_LABELS.map(() => 0);
for (const label of FASHION_LABELS) mkdirSync(join(values.out, label), { recursive: true });
for (let r = 0; r < split.count && written.some((n) => n < perClass); r++) {
  const label = split.labels[r]!;
  if (written[label]! >= perClass) continue;
  written[label]!++;
  const pixels = split.pixels.subarray(r * 784, (r + 1) * 784);
  await sharp(pixels, { raw: { width: 28, height: 28, channels: 1 } })
    .png()
    .toFile(join(values.out, FASHION_LABELS[label]!, `${r}.png`));
}
console.log(`wrote ${written.reduce((a, b) => a + b, 0)} images to ${values.out}`);
