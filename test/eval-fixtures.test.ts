// `clip eval zeroshot` and `clip eval retrieval` against the Python reference's logits (skipped
// loudly without ../shared): the fixture ViT, its images and captions arranged as an ImageFolder
// (captions as class names via classes.txt, template "{}") and as a pairs CSV; every metric must
// equal what the reference's logits_per_image give. Self-contained sibling: test/eval-cli.test.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { toFloat32 } from '../src/tensor.js';
import { readSafetensors } from '../src/weights/safetensors.js';
import { needsFixtures, OPENAI_FIXTURES } from './fixtures.js';
import { expectedRecall, type RetrievalJson, type ZeroShotJson } from './eval-json.js';
import { CLI } from './tiny-cli-model.js';

const skip = needsFixtures(OPENAI_FIXTURES);

function reference() {
  const { tensors, metadata } = readSafetensors(join(OPENAI_FIXTURES, 'outputs', 'vit-tiny.safetensors'));
  const captions = JSON.parse(metadata.captions!) as string[];
  const images = JSON.parse(metadata.image_order!) as string[];
  const logits = toFloat32(tensors.get('logits_per_image')!);
  return { captions, images, logit: (image: number, caption: number) => logits[image * captions.length + caption]! };
}

function clip(dir: string, ...args: string[]) {
  return spawnSync(
    process.execPath,
    [
      CLI,
      ...args,
      '--model',
      join(OPENAI_FIXTURES, 'models', 'vit-tiny.safetensors'),
      '--bpe',
      join(OPENAI_FIXTURES, 'bpe_simple_vocab_16e6.txt.gz'),
      '--json',
    ],
    { encoding: 'utf8', env: { ...process.env, CLIP_CACHE_DIR: join(dir, 'cache') } },
  );
}

test('clip eval zeroshot --template "{}" equals top-1, top-5, per-class and confusion from the reference logits', {
  skip,
}, () => {
  const { captions, images, logit } = reference();
  const classes = captions.flatMap((c, i) => (c ? [i] : [])); // an empty line cannot name a class
  const dir = mkdtempSync(join(tmpdir(), 'clip-eval-fx-'));
  try {
    // Image i goes to class i mod K; folders c00, c01, … sort in class order; classes.txt names them.
    const K = classes.length;
    const label = images.map((_, i) => i % K);
    for (let k = 0; k < K; k++) mkdirSync(join(dir, 'set', `c${String(k).padStart(2, '0')}`), { recursive: true });
    images.forEach((name, i) =>
      copyFileSync(
        join(OPENAI_FIXTURES, 'images', name),
        join(dir, 'set', `c${String(label[i]).padStart(2, '0')}`, name),
      ),
    );
    writeFileSync(join(dir, 'set', 'classes.txt'), `${classes.map((c) => captions[c]).join('\n')}\n`);
    const r = clip(dir, 'eval', 'zeroshot', join(dir, 'set'), '--template', '{}');
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as ZeroShotJson;
    // The reference's view: rank of the true class among the class columns of logits_per_image.
    const rank = images.map((_, i) => classes.filter((c) => logit(i, c) > logit(i, classes[label[i]!]!)).length);
    const predicted = images.map((_, i) =>
      classes.reduce((best, c, k) => (logit(i, c) > logit(i, classes[best]!) ? k : best), 0),
    );
    assert.equal(out.n, images.length);
    assert.equal(out.top1, rank.filter((x) => x === 0).length / images.length);
    assert.equal(out.top5, rank.filter((x) => x < 5).length / images.length);
    const accuracies: number[] = [];
    classes.forEach((c, k) => {
      const mine = images.flatMap((_, i) => (label[i] === k ? [predicted[i] === k] : []));
      const accuracy = mine.filter(Boolean).length / mine.length;
      accuracies.push(accuracy);
      assert.deepEqual(out.per_class[captions[c]!], { accuracy, n: mine.length }, captions[c]);
      assert.deepEqual(
        out.confusion[k],
        classes.map((_, p) => images.filter((_, i) => label[i] === k && predicted[i] === p).length),
      );
    });
    assert.equal(out.mean_per_class, accuracies.reduce((a, b) => a + b, 0) / K);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('clip eval retrieval: recall@K and median ranks of the reference logits, two captions for some images', {
  skip,
}, () => {
  const { captions, images, logit } = reference();
  // Images 0..11 have caption j; image 12 has captions 12 and 13; image 13 has 14 and 15.
  const owner = captions.map((_, t) => (t < 12 ? t : t < 14 ? 12 : 13));
  const used = 14;
  const dir = mkdtempSync(join(tmpdir(), 'clip-eval-fx-'));
  try {
    const quote = (s: string) => `"${s.replaceAll('"', '""')}"`;
    const rows = captions.map((c, t) => `${quote(join(OPENAI_FIXTURES, 'images', images[owner[t]!]!))},${quote(c)}`);
    writeFileSync(join(dir, 'pairs.csv'), `filepath,title\n${rows.join('\n')}\n`);
    const r = clip(dir, 'eval', 'retrieval', '--pairs', join(dir, 'pairs.csv'));
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as RetrievalJson;
    assert.equal(out.n_images, used);
    assert.equal(out.n_texts, captions.length);
    const i2t = Array.from({ length: used }, (_, i) => {
      const best = Math.max(...owner.flatMap((o, t) => (o === i ? [logit(i, t)] : [])));
      return captions.filter((_, t) => logit(i, t) > best).length;
    });
    const t2i = owner.map(
      (o, t) => Array.from({ length: used }, (_, j) => j).filter((j) => logit(j, t) > logit(o, t)).length,
    );
    assert.deepEqual(out.image_to_text, expectedRecall(i2t));
    assert.deepEqual(out.text_to_image, expectedRecall(t2i));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
