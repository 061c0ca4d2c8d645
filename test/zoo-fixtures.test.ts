// The model zoo path against a local server on 127.0.0.1 that serves the real fixture checkpoint
// and merges file under zoo-like URLs (the mirror option points at it), then load() on what was
// downloaded. Skipped loudly without ../shared; the self-contained siblings are
// test/download-http.test.ts and test/zoo-fetch.test.ts (same behaviours on synthetic files).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DownloadError } from '../src/errors.js';
import { load } from '../src/load.js';
import { toFloat32 } from '../src/tensor.js';
import { readSafetensors } from '../src/weights/safetensors.js';
import { downloadSource } from '../src/zoo/fetch.js';
import { BPE_FILE, type OpenAIModelSource } from '../src/zoo/models.js';
import { needsFixtures, OPENAI_FIXTURES } from './fixtures.js';

const skip = needsFixtures(OPENAI_FIXTURES);

interface Hub {
  base: string;
  requests: { path: string; range?: string }[];
  cutNext: Set<string>;
  close(): Promise<void>;
}

/** Serves files by URL path; paths in `cutNext` send half the file once and then drop the connection. */
async function hub(files: Record<string, Buffer>): Promise<Hub> {
  const requests: Hub['requests'] = [];
  const cutNext = new Set<string>();
  const server: Server = createServer((req, res) => {
    const path = req.url!;
    requests.push({ path, range: req.headers.range });
    const body = files[path];
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    if (cutNext.delete(path)) {
      res.writeHead(200, { 'Content-Length': String(body.length) });
      res.write(body.subarray(0, body.length >> 1), () => setTimeout(() => res.socket?.end(), 300));
      return;
    }
    res.writeHead(m ? 206 : 200, {
      'Content-Length': String(body.length - start),
      ...(m ? { 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}),
    });
    res.end(body.subarray(start));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    cutNext,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function fixtureSetup() {
  const weights = readFileSync(join(OPENAI_FIXTURES, 'models', 'vit-tiny.jit.pt'));
  const bpe = readFileSync(join(OPENAI_FIXTURES, 'bpe_simple_vocab_16e6.txt.gz'));
  const sha = createHash('sha256').update(weights).digest('hex');
  // Laid out like the official release URLs: the file's SHA-256 is the second-to-last path segment.
  const source: OpenAIModelSource = {
    kind: 'openai',
    name: 'vit-tiny',
    bpe: BPE_FILE,
    weights: {
      url: `https://openaipublic.azureedge.net/clip/models/${sha}/vit-tiny.jit.pt`,
      dest: 'vit-tiny.jit.pt',
      sha256: sha,
    },
  };
  const files = { [new URL(source.weights.url).pathname]: weights, [new URL(BPE_FILE.url).pathname]: bpe };
  return { source, files, weightsPath: new URL(source.weights.url).pathname };
}

test('zoo download of the fixture model: first download, a cached second load without requests, load() gives the ' +
  'reference features', {
  skip,
}, async () => {
  const { source, files } = fixtureSetup();
  const server = await hub(files);
  const cache = mkdtempSync(join(tmpdir(), 'clip-zoo-'));
  try {
    const got = await downloadSource(source, { baseUrl: server.base, cacheDir: cache, progress: false });
    assert.equal(got.kind, 'openai');
    if (got.kind !== 'openai') return;
    assert.equal(server.requests.length, 2);
    const again = await downloadSource(source, { baseUrl: server.base, cacheDir: cache, progress: false });
    assert.deepEqual(again, got);
    assert.equal(server.requests.length, 2, 'a cached, verified file is not requested again');

    const clip = await load(got.weights, { bpePath: got.bpe });
    const ref = readSafetensors(join(OPENAI_FIXTURES, 'outputs', 'vit-tiny.safetensors')).tensors;
    const tokens = ref.get('tokens')!;
    const features = await clip.model.encodeText({ data: Int32Array.from(toFloat32(tokens)), shape: tokens.shape });
    const expected = toFloat32(ref.get('text_features')!);
    assert.ok(features.data.every((v, i) => Math.abs(v - expected[i]!) < 1e-4));
    assert.deepEqual(
      clip.tokenize('a photo of a dog.').data,
      new Int32Array(toFloat32(tokens).slice(15 * 77, 16 * 77)),
    );
    await clip.model.release();
  } finally {
    await server.close();
    rmSync(cache, { recursive: true, force: true });
  }
});

test('zoo download of the fixture model: resume after a cut, checksum mismatch, 404, refused connection, concurrent ' +
  'loads', {
  skip,
}, async () => {
  const { source, files, weightsPath } = fixtureSetup();
  const server = await hub(files);
  const cache = mkdtempSync(join(tmpdir(), 'clip-zoo-'));
  try {
    server.cutNext.add(weightsPath);
    const got = await downloadSource(source, { baseUrl: server.base, cacheDir: cache, progress: false });
    assert.deepEqual(readFileSync(got.weights), files[weightsPath]);
    const resumed = server.requests.filter((r) => r.path === weightsPath).map((r) => r.range);
    assert.equal(resumed.length, 2);
    assert.match(resumed[1]!, /^bytes=\d+-$/, 'the second request resumes with Range');

    const wrong = { ...source, weights: { ...source.weights, dest: 'wrong.pt', sha256: '0'.repeat(64) } };
    await assert.rejects(
      downloadSource(wrong, { baseUrl: server.base, cacheDir: cache, progress: false }),
      (e: Error) => e instanceof DownloadError && e.reason === 'checksum',
    );
    assert.ok(!readdirSync(cache).some((f) => f.startsWith('wrong.pt')), 'nothing of a corrupt download is left');

    const missing = {
      ...source,
      weights: { ...source.weights, url: source.weights.url.replace('vit-tiny', 'nope'), dest: 'nope.pt' },
    };
    await assert.rejects(
      downloadSource(missing, { baseUrl: server.base, cacheDir: cache, progress: false }),
      (e: Error) => e instanceof DownloadError && e.status === 404 && /HTTP 404/.test(e.message),
    );

    const fresh = mkdtempSync(join(tmpdir(), 'clip-zoo-'));
    try {
      await assert.rejects(
        downloadSource(source, { baseUrl: 'http://127.0.0.1:9', cacheDir: fresh, progress: false }),
        (e: Error) => e instanceof DownloadError && e.reason === 'network' && /could not connect/.test(e.message),
      );
      const before = server.requests.length;
      const [a, b] = await Promise.all(
        [0, 1].map(() => downloadSource(source, { baseUrl: server.base, cacheDir: fresh, progress: false })),
      );
      assert.deepEqual(a, b);
      assert.equal(
        server.requests.slice(before).filter((r) => r.path === weightsPath).length,
        1,
        'two concurrent loads fetch the file once',
      );
      assert.ok(existsSync(a!.weights) && !existsSync(`${a!.weights}.part`));
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  } finally {
    await server.close();
    rmSync(cache, { recursive: true, force: true });
  }
});
