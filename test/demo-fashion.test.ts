// The Fashion-MNIST demo (bench/fashion-mnist.ts) shortened: a small CLIP trained from scratch on
// a few hundred images must lower its loss and beat chance at zero-shot classification with
// prompts it never saw. Needs Debian's `dataset-fashion-mnist` package, which CI does NOT install
// (`apt-get install dataset-fashion-mnist`), and CLIP's BPE merges from ../shared: without them it
// skips loudly. The idx reader and the image tensors are also checked on a handmade file.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { FASHION_MNIST_DIR, fashionDemo, imageTensor, readFashionSplit } from '../bench/fashion-mnist.js';
import { needsFixtures, OPENAI_FIXTURES } from './fixtures.js';

function needsFashionMnist(): false | string {
  const fixtures = needsFixtures(OPENAI_FIXTURES);
  if (fixtures) return fixtures;
  if (existsSync(join(FASHION_MNIST_DIR, 't10k-labels-idx1-ubyte.gz'))) return false;
  const reason =
    `SKIPPED: Fashion-MNIST not found at ${FASHION_MNIST_DIR} (apt-get install dataset-fashion-mnist; ` +
    `CI does not install it)`;
  console.warn(`\n*** ${reason} ***\n`);
  return reason;
}

test('a few training steps on Fashion-MNIST lower the loss and beat chance zero-shot with unseen prompts', {
  skip: needsFashionMnist(),
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clip-fashion-'));
  try {
    const result = await fashionDemo({
      epochs: 2,
      samples: 768,
      batchSize: 64,
      lr: 1e-3,
      warmup: 3,
      seed: 0,
      testSamples: 300,
      out: join(dir, 'fashion'),
      bpePath: join(OPENAI_FIXTURES, 'bpe_simple_vocab_16e6.txt.gz'),
      threads: 2,
      log: () => {},
    });
    assert.equal(result.losses.length, 24, '768 images / batch 64 × 2 epochs');
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const [first, last] = [mean(result.losses.slice(0, 3)), mean(result.losses.slice(-3))];
    assert.ok(last < first - 0.3, `loss fell from ${first.toFixed(3)} to ${last.toFixed(3)}`);
    // Chance is 10%; on 300 images its standard deviation is 1.7 points, so 20% is ~6σ above it.
    assert.ok(result.accuracy > 0.2, `zero-shot top-1 ${(100 * result.accuracy).toFixed(1)}% is above chance`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('idx files: gzipped or not, read into pixels and labels; images become normalised 3-channel tensors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'clip-idx-'));
  try {
    const header = (magic: number, dims: number[]) => {
      const b = Buffer.alloc(4 + 4 * dims.length);
      b.writeUInt32BE(magic, 0);
      dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
      return b;
    };
    const pixels = Buffer.alloc(2 * 784);
    pixels[0] = 255; // image 0, pixel (0, 0) white; the rest black
    pixels[784 + 783] = 51; // image 1, last pixel at 0.2
    writeFileSync(
      join(dir, 'train-images-idx3-ubyte.gz'),
      gzipSync(Buffer.concat([header(0x803, [2, 28, 28]), pixels])),
    );
    // not gzipped
    writeFileSync(join(dir, 'train-labels-idx1-ubyte.gz'), Buffer.concat([header(0x801, [2]), Buffer.from([9, 3])]));
    const split = readFashionSplit('train', dir);
    assert.equal(split.count, 2);
    assert.deepEqual([...split.labels], [9, 3]);
    const t = imageTensor(split, [1, 0]);
    assert.deepEqual(t.shape, [2, 3, 28, 28]);
    // (x - mean) / std with CLIP's per-channel mean and std (red channel: 0.48145466, 0.26862954).
    assert.ok(Math.abs(t.data[3 * 784 + 0]! - (1 - 0.48145466) / 0.26862954) < 1e-5, 'row 1 is image 0: white pixel');
    assert.ok(Math.abs(t.data[783]! - (0.2 - 0.48145466) / 0.26862954) < 1e-5, 'row 0 is image 1');
    assert.ok(
      Math.abs(t.data[2 * 784 + 783]! - (0.2 - 0.40821073) / 0.27577711) < 1e-5,
      'blue channel uses its own mean/std',
    );

    writeFileSync(join(dir, 'train-labels-idx1-ubyte.gz'), Buffer.concat([header(0x801, [3]), Buffer.from([1, 2, 3])]));
    assert.throws(() => readFashionSplit('train', dir), /3 labels, expected \[n, 28, 28\] and n labels/);
    writeFileSync(join(dir, 'train-labels-idx1-ubyte.gz'), Buffer.concat([header(0x803, [3]), Buffer.from([1, 2, 3])]));
    assert.throws(() => readFashionSplit('train', dir), /idx magic 0x803, expected 0x801/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
