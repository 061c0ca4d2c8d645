// The photo index end to end with a random-weight model (no fixtures needed): incremental runs,
// exact duplicates, unreadable and hidden files, refusing another model, query mixes, filters,
// near duplicates, and importing queue output.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { openIndex, parseQuery } from '../src/search/index.js';
import { assertTopK, cosine, imageFeatures, load, textFeature } from './search-brute.js';
import { dumpIndex, runCli, writePhoto, writeTinyModel } from './search-helpers.js';

let dir = '';
let photos = '';
let model = '';
let bpe = '';
const db = () => join(dir, 'index.db');
const index = (...extra: string[]) => {
  const r = runCli({}, 'index', photos, '--db', db(), '--model', model, '--bpe', bpe, '--json', ...extra);
  assert.equal(r.status, 0, r.stderr);
  return { summary: JSON.parse(r.stdout) as Record<string, number>, stderr: r.stderr };
};
const search = (...args: string[]) => {
  const r = runCli({}, 'search', ...args, '--db', db(), '--json');
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { path: string; score: number }[];
};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'clip-index-'));
  [model, bpe] = writeTinyModel(dir);
  photos = join(dir, 'photos');
  mkdirSync(join(photos, 'trip'), { recursive: true });
  mkdirSync(join(photos, '.hidden'));
  for (let i = 0; i < 8; i++) await writePhoto(join(photos, i < 4 ? 'trip' : '', `p${i}.jpg`), i);
  // EXIF date and camera on two photos.
  for (const [i, date, make] of [
    [1, '2019:05:01 10:00:00', 'Canon'],
    [5, '2022:08:09 12:30:00', 'Nikon'],
  ] as const) {
    const path = join(photos, i < 4 ? 'trip' : '', `p${i}.jpg`);
    const buf = await sharp(path)
      .withExif({ IFD0: { Make: make, Model: 'X1' }, IFD2: { DateTimeOriginal: date } })
      .jpeg()
      .toBuffer();
    writeFileSync(path, buf);
  }
  copyFileSync(join(photos, 'p6.jpg'), join(photos, 'copy-of-p6.jpg'));
  writeFileSync(join(photos, 'broken.jpg'), 'not a jpeg');
  await writePhoto(join(photos, '.hidden', 'secret.jpg'), 99);
  await writePhoto(join(photos, 'trip', 'skip-me.jpg'), 98);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('first run: photos added, the copy stored once, the broken file listed, hidden and excluded skipped', () => {
  const { summary, stderr } = index('--exclude', '**/skip-*');
  assert.deepEqual(summary, { added: 9, updated: 0, removed: 0, unchanged: 0, failed: 1, total: 10 });
  assert.match(stderr, /failed: .*broken\.jpg/);
  const rows = dumpIndex(db());
  assert.equal(rows.length, 9);
  assert.ok(!rows.some((r) => r.path.includes('secret') || r.path.includes('skip-me')));
  const copy = rows.find((r) => r.path.endsWith('copy-of-p6.jpg'))!;
  assert.equal(copy.sha256, rows.find((r) => r.path.endsWith('/p6.jpg'))!.sha256);
  const c = openIndex(db(), { readonly: true });
  assert.equal(c.prepare('SELECT count(*) FROM photos').pluck().get(), 8, 'one photo row per content');
  c.close();
});

const JSON_CONTRACT =
  'search --json: cosines of encodeImage/encodeText features within 1e-5, brute-force order; copies are own results';
test(JSON_CONTRACT, async () => {
  const clip = await load(model, { bpePath: bpe });
  const paths = dumpIndex(db()).map((r) => r.path);
  const features = await imageFeatures(clip, paths);
  for (const caption of ['cat', 'a photo of a cat on a mat']) {
    const t = await textFeature(clip, caption);
    assertTopK(search(caption, '-k', '9'), new Map([...features].map(([p, f]) => [p, cosine(f, t)])), 9, caption);
  }
  // A weighted mix: Σ w · unit(feature), normalised.
  const dog = await textFeature(clip, 'dog');
  const blur = await textFeature(clip, 'blurry');
  const img = features.get(paths.find((p) => p.endsWith('p3.jpg'))!)!;
  const unit = (v: Float32Array) => {
    const n = Math.hypot(...v);
    return Array.from(v, (x) => x / n);
  };
  const [u1, u2, u3] = [unit(dog), unit(img), unit(blur)];
  const mix = Float32Array.from(u1, (x, i) => x + 0.5 * u2[i]! - u3[i]!);
  const query = `"dog" + 0.5*${paths.find((p) => p.endsWith('p3.jpg'))} - "blurry"`;
  assertTopK(search(query, '-k', '4'), new Map([...features].map(([p, f]) => [p, cosine(f, mix)])), 4, 'mix');
  await clip.model.release();
});

test('filters are applied inside the query: date, folder, camera; --min-score; --paths-only', () => {
  assert.deepEqual(
    search('cat', '--after', '2020-01-01').map((r) => r.path.split('/').pop()),
    ['p5.jpg'],
  );
  assert.deepEqual(
    search('cat', '--before', '2020-01-01').map((r) => r.path.split('/').pop()),
    ['p1.jpg'],
  );
  assert.deepEqual(
    search('cat', '--camera', 'canon').map((r) => r.path.split('/').pop()),
    ['p1.jpg'],
  );
  const trip = search('cat', '--folder', join(photos, 'trip'), '-k', '20');
  assert.deepEqual(trip.map((r) => r.path.split('/').pop()).sort(), ['p0.jpg', 'p1.jpg', 'p2.jpg', 'p3.jpg']);
  const all = search('cat', '-k', '20');
  const cut = all[3]!.score;
  assert.deepEqual(
    search('cat', '-k', '20', '--min-score', String(cut)),
    all.filter((r) => r.score >= cut),
  );
  const plain = runCli({}, 'search', 'cat', '--db', db(), '-k', '3', '--paths-only');
  assert.deepEqual(
    plain.stdout.trim().split('\n'),
    all.slice(0, 3).map((r) => r.path),
  );
});

test('second run: unchanged skipped; rewritten file updated, touched one unchanged, deleted one removed', async () => {
  assert.deepEqual(index('--exclude', '**/skip-*').summary, {
    added: 0,
    updated: 0,
    removed: 0,
    unchanged: 9,
    failed: 1,
    total: 10,
  });
  await writePhoto(join(photos, 'p4.jpg'), 44);
  utimesSync(join(photos, 'p7.jpg'), new Date(), new Date(Date.now() + 5000));
  rmSync(join(photos, 'trip', 'p0.jpg'));
  rmSync(join(photos, 'broken.jpg'));
  const { summary } = index('--exclude', '**/skip-*');
  assert.deepEqual(summary, { added: 0, updated: 1, removed: 1, unchanged: 7, failed: 0, total: 8 });
  const c = openIndex(db(), { readonly: true });
  assert.equal(
    c.prepare('SELECT count(*) FROM photos').pluck().get(),
    7,
    'the replaced and the deleted photo are gone',
  );
  assert.equal(c.prepare('SELECT count(*) FROM vectors').pluck().get(), 7);
  assert.equal(c.prepare('SELECT count(*) FROM codes').pluck().get(), 7);
  c.close();
});

test('another model is refused with a hint to --reindex; --reindex rebuilds', () => {
  const [other] = writeTinyModel(dir, 12, 'other.safetensors');
  const r = runCli({}, 'index', photos, '--db', db(), '--model', other, '--bpe', bpe, '--json');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^clip: .*--reindex/);
  const s = runCli({}, 'search', 'cat', '--db', db(), '--model', other, '--bpe', bpe);
  assert.equal(s.status, 1);
  assert.match(s.stderr, /^clip: .*built with/);
  const before = dumpIndex(db());
  const re = runCli(
    {},
    'index',
    photos,
    '--db',
    join(dir, 'other.db'),
    '--model',
    other,
    '--bpe',
    bpe,
    '--json',
    '--reindex',
  );
  assert.equal(re.status, 0, re.stderr);
  assert.equal(dumpIndex(join(dir, 'other.db')).length, before.length + 1, 'skip-me.jpg is not excluded this time');
});

test('dupes lists the exact copy and groups near duplicates by threshold', () => {
  const r = runCli({}, 'dupes', '--db', db(), '--threshold', '-1', '--json');
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { exact: string[][]; near: { paths: string[] }[] };
  assert.deepEqual(
    report.exact.map((g) => g.map((p) => p.split('/').pop())),
    [['copy-of-p6.jpg', 'p6.jpg']],
  );
  assert.equal(report.near.length, 1, 'at threshold -1 every photo is near every other');
  assert.equal(report.near[0]!.paths.length, 7);
});

test('query mixes: quoted texts, weights, signs, images; plain queries stay one text', () => {
  const isImage = (t: string) => t.endsWith('.jpg');
  assert.deepEqual(parseQuery('a t-shirt - blue + red', isImage), [{ weight: 1, text: 'a t-shirt - blue + red' }]);
  assert.deepEqual(parseQuery('"a dog" + 0.5*beach.jpg - "blurry"', isImage), [
    { weight: 1, text: 'a dog' },
    { weight: 0.5, image: 'beach.jpg' },
    { weight: -1, text: 'blurry' },
  ]);
  assert.deepEqual(parseQuery('-"night" + 2*"a t-shirt"', isImage), [
    { weight: -1, text: 'night' },
    { weight: 2, text: 'a t-shirt' },
  ]);
  assert.throws(() => parseQuery('"unclosed', isImage), /unclosed/);
});

/** A .npy file: float32 or float16 rows. */
function npy(rows: Float32Array[], dtype: '<f4' | '<f2'): Buffer {
  const header = `{'descr': '${dtype}', 'fortran_order': False, 'shape': (${rows.length}, ${rows[0]!.length}), }`;
  const padded = header.padEnd(Math.ceil((header.length + 11) / 64) * 64 - 11) + '\n';
  const size = dtype === '<f4' ? 4 : 2;
  const data = Buffer.alloc(rows.length * rows[0]!.length * size);
  rows
    .flatMap((r) => Array.from(r))
    .forEach((v, i) => (size === 4 ? data.writeFloatLE(v, 4 * i) : data.writeUInt16LE(toHalf(v), 2 * i)));
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head.writeUInt16LE(padded.length, 8);
  return Buffer.concat([head, Buffer.from(padded, 'latin1'), data]);
}

function toHalf(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  if (exp <= 0) return sign;
  return sign | (exp << 10) | ((x >>> 13) & 0x3ff);
}

test('clip index --import reads queue output (float32, float16 shards), searches like a local index', async () => {
  const clip = await load(model, { bpePath: bpe });
  const paths = dumpIndex(db()).map((r) => r.path);
  const shas = new Map(dumpIndex(db()).map((r) => [r.path, r.sha256]));
  const features = await imageFeatures(clip, paths);
  await clip.model.release();
  const out = join(dir, 'queue-out');
  mkdirSync(out);
  const half = Math.ceil(paths.length / 2);
  // As `clip embed --queue` writes them: a failed line has a row of zeros.
  const shard = (i: number, list: string[], dtype: '<f4' | '<f2', extra: string[] = []) => {
    const rows = [...list.map((p) => features.get(p)!), ...extra.map(() => new Float32Array(8))];
    writeFileSync(join(out, `shard-0000${i}.npy`), npy(rows, dtype));
    const lines = list.map((p) => JSON.stringify({ path: p, sha256: shas.get(p), ok: true }));
    writeFileSync(join(out, `shard-0000${i}.jsonl`), [...lines, ...extra].join('\n') + '\n');
    return { embeddings: `shard-0000${i}.npy`, metadata: `shard-0000${i}.jsonl`, rows: rows.length };
  };
  const failed = JSON.stringify({ path: join(photos, 'gone.jpg'), ok: false, error: 'unreadable' });
  const modelSha256 = createHash('sha256').update(readFileSync(model)).digest('hex');
  const manifest = {
    model: 'some/other/name.safetensors',
    modelSha256,
    dim: 8,
    complete: true,
    shards: [shard(0, paths.slice(0, half), '<f4'), shard(1, paths.slice(half), '<f2', [failed])],
  };
  writeFileSync(join(out, 'manifest.json'), JSON.stringify(manifest));
  const imported = join(dir, 'imported.db');
  const r = runCli({}, 'index', '--import', out, '--db', imported, '--model', model, '--bpe', bpe, '--json');
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    added: paths.length,
    updated: 0,
    removed: 0,
    unchanged: 0,
    failed: 1,
    total: paths.length + 1,
  });
  const local = search('cat', '-k', '20');
  const fromQueue = JSON.parse(
    runCli({}, 'search', 'cat', '--db', imported, '-k', '20', '--json').stdout,
  ) as typeof local;
  const score = new Map(fromQueue.map((h) => [h.path, h.score]));
  for (const h of local) {
    const tolerance = paths.indexOf(h.path) < half ? 1e-6 : 2e-3; // float16 rows
    assert.ok(Math.abs(score.get(h.path)! - h.score) <= tolerance, `${h.path}: ${score.get(h.path)} vs ${h.score}`);
  }
  writeFileSync(join(out, 'manifest.json'), JSON.stringify({ ...manifest, modelSha256: '0'.repeat(64) }));
  const other = runCli({}, 'index', '--import', out, '--db', imported, '--model', model, '--bpe', bpe);
  assert.equal(other.status, 1);
  assert.match(other.stderr, /^clip: .*embedded with/);
  const bad = join(dir, 'bad-out');
  mkdirSync(bad);
  writeFileSync(join(bad, 'manifest.json'), JSON.stringify({ ...manifest, complete: false }));
  const refused = runCli({}, 'index', '--import', bad, '--db', imported, '--model', model, '--bpe', bpe);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /^clip: .*not complete/);
});
