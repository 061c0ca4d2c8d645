// `clip eval` and `clip merge` end to end, self-contained: a random-weight model, a tiny BPE
// merges file and generated PNGs in a temporary folder. The metrics are checked against an
// independent computation from the library's features (argmax of cosine similarities).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { load } from '../src/load.js';
import { randomStateDict } from '../src/models/random.js';
import { toFloat32 } from '../src/tensor.js';
import { readCheckpoint } from '../src/weights/index.js';
import { writeSafetensors } from '../src/weights/safetensors.js';
import { expectedRecall, type RetrievalJson, type ZeroShotJson } from './eval-json.js';
import { CFG, CLI, MERGES } from './tiny-cli-model.js';

const CLASSES = ['cat', 'red', 'blue'];
const COLOURS: Record<string, [number, number, number][]> = {
  cat: [
    [90, 90, 90],
    [120, 100, 80],
  ],
  red: [
    [220, 20, 20],
    [180, 40, 60],
  ],
  blue: [
    [20, 30, 220],
    [60, 90, 200],
  ],
};

let dir = '';
const run = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, CLIP_OFFLINE: '1', CLIP_CACHE_DIR: join(dir, 'cache') },
  });
const model = () => join(dir, 'model');
const bpe = () => join(dir, 'model', 'bpe_simple_vocab_16e6.txt');

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'clip-eval-cli-'));
  mkdirSync(model());
  writeSafetensors(join(model(), 'model.safetensors'), randomStateDict(CFG, 5));
  writeSafetensors(join(dir, 'other.safetensors'), randomStateDict(CFG, 6));
  writeFileSync(bpe(), MERGES);
  const pairs = ['filepath,title'];
  for (const label of CLASSES) {
    mkdirSync(join(dir, 'set', label), { recursive: true });
    for (const [i, [r, g, b]] of COLOURS[label]!.entries()) {
      const file = join(dir, 'set', label, `${i}.png`);
      // The class colour in stripes whose period differs per image: six clearly different inputs.
      const pixels = Buffer.alloc(20 * 18 * 3);
      for (let p = 0; p < 20 * 18; p++) {
        const on = Math.floor(p / 20 / (2 + i + CLASSES.indexOf(label))) % 2 === 0;
        pixels.set(on ? [r, g, b] : [255 - r, 255 - g, 255 - b], 3 * p);
      }
      await sharp(pixels, { raw: { width: 20, height: 18, channels: 3 } })
        .png()
        .toFile(file);
      pairs.push(`${file},a ${label} thing ${i}`, ...(i === 0 ? [`${file},${label}`] : []));
    }
  }
  writeFileSync(join(dir, 'pairs.csv'), `${pairs.join('\n')}\n`);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Unit image features of the set (sorted folder order) and unit text features of `texts`, from the library. */
async function reference(
  texts: string[],
): Promise<{ images: Float32Array[]; labels: number[]; texts: Float32Array[] }> {
  const clip = await load(model(), { bpePath: bpe() });
  try {
    const files = [...CLASSES]
      .sort()
      .flatMap((label) => COLOURS[label]!.map((_, i) => ({ file: join(dir, 'set', label, `${i}.png`), label })));
    const unit = (t: { data: Float32Array; shape: readonly number[] }) =>
      Array.from({ length: t.shape[0]! }, (_, i) => {
        const row = t.data.slice(i * t.shape[1]!, (i + 1) * t.shape[1]!);
        const n = Math.hypot(...row);
        return row.map((v) => v / n);
      });
    const images = unit(await clip.model.encodeImage((await clip.preprocessBatch(files.map((f) => f.file))).tensor));
    return {
      images,
      labels: files.map((f) => [...CLASSES].sort().indexOf(f.label)),
      texts: unit(await clip.model.encodeText(clip.tokenize(texts))),
    };
  } finally {
    await clip.model.release();
  }
}

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i]!, 0);
const argmax = (xs: number[]) => xs.indexOf(Math.max(...xs));

// The contract's fields, equal to argmax of cosine similarity; a second run reads the feature cache.
test('clip eval zeroshot --template "{}" --json: the contract, against argmax of cosine similarity', async () => {
  const classes = [...CLASSES].sort();
  const ref = await reference(classes);
  const predicted = ref.images.map((img) => argmax(ref.texts.map((t) => dot(img, t))));
  // The dataset may follow --template: the option takes one value (repeat it for more).
  const r = run('eval', 'zeroshot', '--model', model(), '--template', '{}', join(dir, 'set'), '--json');
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as ZeroShotJson;
  assert.equal(out.n, 6);
  assert.equal(out.top1, predicted.filter((p, i) => p === ref.labels[i]).length / 6);
  assert.equal(out.top5, 1);
  for (const [c, name] of classes.entries()) {
    const mine = ref.labels.flatMap((l, i) => (l === c ? [predicted[i] === c] : []));
    assert.deepEqual(out.per_class[name], { accuracy: mine.filter(Boolean).length / mine.length, n: 2 });
  }
  assert.equal(out.mean_per_class, classes.reduce((s, n) => s + out.per_class[n]!.accuracy!, 0) / 3);
  assert.deepEqual(out.settings.templates, ['{}']);
  assert.match(r.stderr, /images: 6 images in .* images\/s/);
  const again = run('eval', 'zeroshot', join(dir, 'set'), '--model', model(), '--template', '{}', '--json');
  assert.match(again.stderr, /6 image features from the cache/);
  assert.equal((JSON.parse(again.stdout) as { top1: number }).top1, out.top1);
});

test('clip eval zeroshot --report: a self-contained HTML file with the numbers and a decodable PNG', async () => {
  const report = join(dir, 'report.html');
  const r = run(
    'eval',
    'zeroshot',
    join(dir, 'set'),
    '--model',
    model(),
    '--template-set',
    'single',
    '--json',
    '--report',
    report,
  );
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as ZeroShotJson;
  const html = readFileSync(report, 'utf8');
  assert.ok(html.includes(`${(100 * out.top1).toFixed(2)}%`), 'top-1 in the report');
  for (const name of CLASSES) assert.ok(html.includes(`${(100 * out.per_class[name]!.accuracy!).toFixed(2)}%`));
  assert.ok(!/src="http|href="http/.test(html), 'nothing fetched from elsewhere');
  const png = /src="data:image\/png;base64,([^"]+)"/.exec(html);
  assert.ok(png, 'the confusion matrix is embedded as a PNG');
  const meta = await sharp(Buffer.from(png[1]!, 'base64')).metadata();
  assert.equal(meta.format, 'png');
  assert.ok(meta.width! > 100 && meta.height! > 100);
});

test('clip eval retrieval --json: recall and median rank both ways, against ranks from library features', async () => {
  const csv = readFileSync(join(dir, 'pairs.csv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(','));
  const images = [...new Set(csv.map((c) => c[0]!))];
  const ref = await reference(csv.map((c) => c[1]!));
  const order = [...CLASSES]
    .sort()
    .flatMap((label) => COLOURS[label]!.map((_, i) => join(dir, 'set', label, `${i}.png`)));
  const feature = (file: string) => ref.images[order.indexOf(file)]!;
  const owner = csv.map((c) => images.indexOf(c[0]!));
  const s = (i: number, t: number) => dot(feature(images[i]!), ref.texts[t]!);
  const i2t = images.map((_, i) =>
    Math.min(...owner.flatMap((o, t) => (o === i ? [owner.filter((_, u) => s(i, u) > s(i, t)).length] : []))),
  );
  const t2i = owner.map((o, t) => images.filter((_, j) => s(j, t) > s(o, t)).length);
  const r = run('eval', 'retrieval', '--model', model(), '--pairs', join(dir, 'pairs.csv'), '--json');
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as RetrievalJson;
  assert.equal(out.n_images, 6);
  assert.equal(out.n_texts, 9);
  assert.deepEqual(Object.keys(out.image_to_text), ['R@1', 'R@5', 'R@10', 'median_rank']);
  assert.deepEqual(out.image_to_text, expectedRecall(i2t));
  assert.deepEqual(out.text_to_image, expectedRecall(t2i));
});

test('clip eval linear-probe --json: fits on train, scores test; --export-features writes .npy files', () => {
  const npy = join(dir, 'npy');
  const r = run(
    'eval',
    'linear-probe',
    '--model',
    model(),
    '--train',
    join(dir, 'set'),
    '--test',
    join(dir, 'set'),
    '--C',
    '1e6',
    '--json',
    '--export-features',
    npy,
  );
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    top1: number;
    n: number;
    probe: { C: number; sweep: unknown[]; train_accuracy: number };
    settings: { task: string };
  };
  assert.equal(out.n, 6);
  assert.equal(out.probe.C, 1e6);
  assert.deepEqual(out.probe.sweep, []);
  assert.equal(
    out.top1,
    1,
    'the random model features differ little, but with almost no penalty the six are fitted (as scikit-learn does)',
  );
  assert.equal(out.probe.train_accuracy, 1, 'train and test are the same six images');
  assert.equal(out.settings.task, 'linear-probe');
  for (const f of ['train_x', 'train_y', 'test_x', 'test_y']) assert.ok(existsSync(join(npy, `${f}.npy`)));
  // Fitted by default on the ViT's features before the projection: its width, not the embedding's.
  assert.match(readFileSync(join(npy, 'train_x.npy'), 'latin1'), /'shape': \(6, 64\)/);
  const embedding = run(
    'eval',
    'linear-probe',
    ...['--model', model(), '--train', join(dir, 'set'), '--test', join(dir, 'set'), '--C', '1'],
    ...['--features', 'embedding', '--export-features', npy],
  );
  assert.equal(embedding.status, 0, embedding.stderr);
  assert.match(readFileSync(join(npy, 'train_x.npy'), 'latin1'), new RegExp(`'shape': \\(6, ${CFG.embedDim}\\)`));
});

test('pre-projection image features times visual.proj are the embedding', async () => {
  const clip = await load(model(), { bpePath: bpe() });
  try {
    const files = CLASSES.map((label) => join(dir, 'set', label, '0.png'));
    const { tensor } = await clip.preprocessBatch(files);
    const embedding = await clip.model.encodeImage(tensor);
    const pooled = await clip.model.encodeImage(tensor, { output: 'pre-projection' });
    const width = CFG.vision.width;
    assert.deepEqual(pooled.shape, [3, width]);
    const proj = toFloat32((await readCheckpoint(join(model(), 'model.safetensors'))).get('visual.proj')!);
    for (let i = 0; i < 3; i++) {
      for (let d = 0; d < CFG.embedDim; d++) {
        let sum = 0;
        for (let k = 0; k < width; k++) sum += pooled.data[i * width + k]! * proj[k * CFG.embedDim + d]!;
        assert.ok(Math.abs(sum - embedding.data[i * CFG.embedDim + d]!) < 1e-4, `image ${i}, dimension ${d}`);
      }
    }
  } finally {
    await clip.model.release();
  }
});

test('unreadable images: named on stderr, counted and listed in the JSON, exit status 1 (as clip embed)', () => {
  const broken = join(dir, 'broken');
  for (const label of CLASSES) {
    mkdirSync(join(broken, label), { recursive: true });
    writeFileSync(join(broken, label, '0.png'), readFileSync(join(dir, 'set', label, '0.png')));
  }
  const bad = join(broken, 'red', '1.png');
  writeFileSync(bad, 'not an image');
  const zeroshot = run('eval', 'zeroshot', broken, '--model', model(), '--template', '{}', '--json');
  assert.equal(zeroshot.status, 1, zeroshot.stderr);
  assert.ok(zeroshot.stderr.includes(bad), 'stderr names the file');
  assert.match(zeroshot.stderr, /^clip: 1 image\(s\) could not be read/m);
  const out = JSON.parse(zeroshot.stdout) as {
    n: number;
    failed: number;
    failures: { input: string; error: string }[];
  };
  assert.equal(out.n, 3, 'the metrics cover the readable images');
  assert.equal(out.failed, 1);
  assert.equal(out.failures[0]!.input, bad);
  assert.ok(out.failures[0]!.error.length > 0);
  const probe = run(
    'eval',
    'linear-probe',
    ...['--model', model(), '--train', broken, '--test', broken, '--C', '1', '--json'],
  );
  assert.equal(probe.status, 1, probe.stderr);
  const fit = JSON.parse(probe.stdout) as { n: number; failed: number; failures: { input: string }[] };
  assert.equal(fit.n, 3);
  assert.deepEqual(
    fit.failures.map((f) => f.input),
    [bad, bad],
    'once in train, once in test',
  );
  const clean = JSON.parse(run('eval', 'zeroshot', join(dir, 'set'), '--model', model(), '--json').stdout);
  assert.equal(clean.failed, 0);
});

test('clip merge: alpha 0 gives the first model, --sweep reports zero-shot accuracy per alpha', async () => {
  const a = join(model(), 'model.safetensors');
  const b = join(dir, 'other.safetensors');
  const out = join(dir, 'merged.safetensors');
  const r = run('merge', a, b, '--alpha', '0', '-o', out);
  assert.equal(r.status, 0, r.stderr);
  const [ma, mo] = await Promise.all([readCheckpoint(a), readCheckpoint(out)]);
  for (const [key, t] of ma) assert.deepEqual(toFloat32(mo.get(key)!), toFloat32(t), key);
  const zero = run('eval', 'zeroshot', join(dir, 'set'), '--model', a, '--bpe', bpe(), '--template', '{}', '--json');
  const sweep = run(
    'merge',
    a,
    b,
    '--sweep',
    '0,1',
    '--eval',
    join(dir, 'set'),
    '--template',
    '{}',
    '--bpe',
    bpe(),
    '--json',
  );
  assert.equal(sweep.status, 0, sweep.stderr);
  const s = JSON.parse(sweep.stdout) as {
    sweep: { alpha: number; top1: number }[];
    best_alpha: number;
    failed: number;
  };
  assert.equal(s.failed, 0);
  assert.deepEqual(
    s.sweep.map((x) => x.alpha),
    [0, 1],
  );
  assert.equal(s.sweep[0]!.top1, (JSON.parse(zero.stdout) as { top1: number }).top1);
});

test('usage mistakes exit 2 with one line; a dataset that does not exist exits 1 naming it', () => {
  const none = run('eval', 'zeroshot', '--model', model());
  assert.equal(none.status, 2);
  assert.equal(
    none.stderr.trim(),
    'clip: give <dataset> (an ImageFolder directory or a filepath,label CSV) or --fashion-mnist',
  );
  const missing = run('eval', 'zeroshot', join(dir, 'nope'), '--model', model());
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /^clip: .*nope: no such dataset/);
  const noOut = run('merge', 'a', 'b');
  assert.equal(noOut.status, 2);
});
