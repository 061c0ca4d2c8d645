// The HTTP API of `clip serve` (no browser needed): text and image search equal `clip search`,
// similar photos, thumbnails, status, and the security rules (ids only, 404 for anything else,
// upload size and pixel limits).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { buildServer } from '../src/server/app.js';
import { runCli, writePhoto, writeTinyModel } from './search-helpers.js';

let dir = '';
let app: FastifyInstance;
const photos = () => join(dir, 'photos');
type Results = { results: { id: number; path: string; score: number; width: number; taken: string | null }[] };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'clip-serve-'));
  const [model, bpe] = writeTinyModel(dir);
  mkdirSync(photos());
  for (let i = 0; i < 6; i++) await writePhoto(join(photos(), `p${i}.jpg`), i, 80, 60);
  const r = runCli({}, 'index', photos(), '--db', join(dir, 'i.db'), '--model', model, '--bpe', bpe, '--json');
  assert.equal(r.status, 0, r.stderr);
  app = await buildServer({
    db: join(dir, 'i.db'),
    thumbnails: join(dir, 'thumbs'),
    maxUploadBytes: 200_000,
    maxUploadPixels: 1_000_000,
  });
});
after(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

const multipart = (bytes: Buffer, name = 'image') => {
  const boundary = '----clip-test';
  const head =
    `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="x.jpg"\r\n` +
    'Content-Type: image/jpeg\r\n\r\n';
  return {
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    payload: Buffer.concat([Buffer.from(head), bytes, Buffer.from(`\r\n--${boundary}--\r\n`)]),
  };
};

test('GET /api/search gives the same ranking and scores as clip search --json', async () => {
  const res = await app.inject({ url: '/api/search?q=cat&k=4' });
  assert.equal(res.statusCode, 200);
  const { results } = res.json() as Results;
  const cli = JSON.parse(runCli({}, 'search', 'cat', '--db', join(dir, 'i.db'), '-k', '4', '--json').stdout) as {
    path: string;
    score: number;
  }[];
  assert.deepEqual(
    results.map((r) => [r.path, r.score]),
    cli.map((r) => [r.path, r.score]),
  );
  assert.equal(results[0]!.width, 80);
  const page2 = (await app.inject({ url: '/api/search?q=cat&k=2&offset=2' })).json() as Results;
  assert.deepEqual(
    page2.results.map((r) => r.id),
    results.slice(2, 4).map((r) => r.id),
    'offset pages through the same ranking',
  );
  assert.equal((await app.inject({ url: '/api/search?k=4' })).statusCode, 400, 'q is required');
  assert.equal((await app.inject({ url: '/api/search?q=cat&after=yesterday' })).statusCode, 400);
});

test('POST /api/search with an uploaded photo finds it first; GET /api/similar leaves the photo out', async () => {
  const bytes = readFileSync(join(photos(), 'p3.jpg'));
  const res = await app.inject({ method: 'POST', url: '/api/search?k=3', ...multipart(bytes) });
  assert.equal(res.statusCode, 200, res.body);
  const { results } = res.json() as Results;
  assert.ok(results[0]!.path.endsWith('p3.jpg'));
  assert.ok(Math.abs(results[0]!.score - 1) < 1e-5);
  const four = (await app.inject({ method: 'POST', url: '/api/search?k=4', ...multipart(bytes) })).json() as Results;
  const similar = (await app.inject({ url: `/api/similar/${results[0]!.id}?k=3` })).json() as Results;
  assert.deepEqual(
    similar.results.map((r) => r.id),
    four.results.slice(1).map((r) => r.id),
  );
});

test('upload limits: too many bytes 413, too many pixels 413, not an image 400, not multipart 415', async () => {
  const big = await sharp({ create: { width: 1200, height: 1000, channels: 3, background: '#888' } })
    .png({ compressionLevel: 9 })
    .toBuffer();
  assert.ok(big.length < 200_000);
  assert.equal((await app.inject({ method: 'POST', url: '/api/search', ...multipart(big) })).statusCode, 413, 'pixels');
  const noisy = Buffer.alloc(300_000, 7);
  assert.equal(
    (await app.inject({ method: 'POST', url: '/api/search', ...multipart(noisy) })).statusCode,
    413,
    'bytes',
  );
  assert.equal(
    (await app.inject({ method: 'POST', url: '/api/search', ...multipart(Buffer.from('hello')) })).statusCode,
    400,
  );
  assert.equal((await app.inject({ method: 'POST', url: '/api/search', payload: { q: 1 } })).statusCode, 415);
});

test('thumbnails are JPEG, cached by content; only indexed photos by id are served, anything else is 404', async () => {
  const res = await app.inject({ url: '/api/photos/1/thumbnail' });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-type'], 'image/jpeg');
  assert.deepEqual([...res.rawPayload.subarray(0, 2)], [0xff, 0xd8]);
  assert.equal(readdirSync(join(dir, 'thumbs')).filter((f) => f.endsWith('.jpg')).length, 1);
  assert.equal((await app.inject({ url: '/api/photos/1/image' })).statusCode, 200);
  for (const url of [
    '/api/photos/999/thumbnail',
    '/api/photos/0x1/thumbnail',
    '/api/photos/..%2F..%2Fetc%2Fpasswd/thumbnail',
    '/api/photos/1/../../../etc/passwd',
    '/../../etc/passwd',
    '/api/',
    '/api/photos/',
    '/ui/',
    '/app.js/../../package.json',
  ]) {
    assert.equal((await app.inject({ url })).statusCode, 404, url);
  }
});

test('status and the page', async () => {
  const status = (await app.inject({ url: '/api/status' })).json() as {
    count: number;
    model: string;
    indexing: unknown;
  };
  assert.equal(status.count, 6);
  assert.ok(status.model.endsWith('model.safetensors'));
  assert.equal(status.indexing, null);
  const page = await app.inject({ url: '/' });
  assert.ok(
    existsSync(join(process.cwd(), 'dist', 'ui', 'index.html')) ? page.statusCode === 200 : page.statusCode === 500,
  );
});
