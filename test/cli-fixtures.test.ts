// `clip classify` against the reference (skipped loudly without ../shared): with the fixture ViT,
// the fixture images and a single "{}" template, the prompts are the reference's own captions, so
// the probabilities must be the softmax of the stored logits_per_image over those captions.
// Self-contained sibling: test/cli.test.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { toFloat32 } from '../src/tensor.js';
import { readSafetensors } from '../src/weights/safetensors.js';
import { needsFixtures, OPENAI_FIXTURES } from './fixtures.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');

test('clip classify reproduces the reference probabilities and top-1', { skip: needsFixtures(OPENAI_FIXTURES) }, () => {
  const { tensors, metadata } = readSafetensors(join(OPENAI_FIXTURES, 'outputs', 'vit-tiny.safetensors'));
  const captions = JSON.parse(metadata.captions!) as string[];
  const images = JSON.parse(metadata.image_order!) as string[];
  const logits = toFloat32(tensors.get('logits_per_image')!);
  // Captions usable as comma-separated labels: non-empty, no commas, no special-token text.
  const labelIdx = captions.flatMap((c, i) => (c && !c.includes(',') && !c.includes('<|') ? [i] : []));
  assert.ok(labelIdx.length >= 8);
  const shown = [0, 2, 3, 4, 9];
  const r = spawnSync(
    process.execPath,
    [
      CLI,
      'classify',
      ...shown.map((i) => join(OPENAI_FIXTURES, 'images', images[i]!)),
      '--model',
      join(OPENAI_FIXTURES, 'models', 'vit-tiny.jit.pt'),
      '--bpe',
      join(OPENAI_FIXTURES, 'bpe_simple_vocab_16e6.txt.gz'),
      '--labels',
      labelIdx.map((i) => captions[i]).join(','),
      '--template',
      '{}',
      '--truncate',
      '-k',
      String(labelIdx.length),
      '--json',
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { image: string; predictions: { label: string; probability: number }[] });
  assert.equal(lines.length, shown.length);
  lines.forEach((line, n) => {
    const row = shown[n]!;
    const z = labelIdx.map((i) => logits[row * captions.length + i]!);
    const max = Math.max(...z);
    const sum = z.reduce((s, v) => s + Math.exp(v - max), 0);
    const expected = new Map(labelIdx.map((i, k) => [captions[i]!, Math.exp(z[k]! - max) / sum]));
    const best = [...expected].sort((a, b) => b[1] - a[1])[0]![0];
    assert.equal(line.predictions[0]!.label, best, `top-1 of ${images[row]}`);
    for (const p of line.predictions)
      assert.ok(Math.abs(p.probability - expected.get(p.label)!) < 1e-4, `${images[row]} / ${p.label}`);
  });
});
