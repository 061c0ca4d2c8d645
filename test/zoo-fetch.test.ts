// downloadModel: every file of a Hugging Face repository, with the weights-file fallback, against a
// local server standing in for huggingface.co (through the mirror option).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DownloadError } from '../src/errors.js';
import { downloadModel } from '../src/zoo/fetch.js';

const REPO = 'openai/clip-vit-base-patch32';
// A zip's outline (what the torch-zip check looks for): local header first, end record last.
const TORCH_ZIP = Buffer.concat([
  Buffer.from('PK\x03\x04'),
  Buffer.alloc(64, 7),
  Buffer.from('PK\x05\x06'),
  Buffer.alloc(18),
]);

async function withHub(
  files: Record<string, string | Buffer>,
  fn: (base: string, cache: string, paths: string[]) => Promise<void>,
) {
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url!);
    const body = files[req.url!];
    if (body === undefined) res.writeHead(404).end();
    else res.writeHead(200, { 'Content-Length': String(Buffer.byteLength(body)) }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const cache = mkdtempSync(join(tmpdir(), 'clip-fetch-'));
  try {
    await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, cache, paths);
  } finally {
    server.closeAllConnections();
    server.close();
    rmSync(cache, { recursive: true, force: true });
  }
}

const repoFiles = (weights: Record<string, Buffer>) => ({
  [`/${REPO}/resolve/main/config.json`]: '{"projection_dim": 512}',
  [`/${REPO}/resolve/main/vocab.json`]: '{"a": 0}',
  [`/${REPO}/resolve/main/merges.txt`]: '#version: 0.2\na b\n',
  ...Object.fromEntries(Object.entries(weights).map(([f, b]) => [`/${REPO}/resolve/main/${f}`, b])),
});

test('a repository without model.safetensors falls back to pytorch_model.bin', () =>
  withHub(repoFiles({ 'pytorch_model.bin': TORCH_ZIP }), async (base, cache, paths) => {
    const files = await downloadModel(`hf-hub:${REPO}`, { baseUrl: base, cacheDir: cache, progress: false });
    assert.equal(files.kind, 'huggingface');
    if (files.kind !== 'huggingface') return;
    assert.equal(files.weights, join(cache, 'hf', REPO, 'pytorch_model.bin'));
    assert.deepEqual(readFileSync(files.weights), TORCH_ZIP);
    assert.ok('merges' in files.tokenizer);
    assert.equal(readFileSync(files.tokenizer.merges, 'utf8'), '#version: 0.2\na b\n');
    assert.ok(paths.includes(`/${REPO}/resolve/main/model.safetensors`), 'safetensors is tried first');

    // Offline, the cached alternative is found without asking the server.
    const before = paths.length;
    const again = await downloadModel(`hf-hub:${REPO}`, { cacheDir: cache, offline: true });
    assert.equal(again.weights, files.weights);
    assert.equal(paths.length, before);
  }));

test('an open_clip hub repository (open_clip_config.json + weights, no transformers files) is used as such', () =>
  withHub(
    {
      [`/${REPO}/resolve/main/open_clip_config.json`]: '{"model_cfg": {"embed_dim": 512}}',
      [`/${REPO}/resolve/main/open_clip_pytorch_model.bin`]: TORCH_ZIP,
      [`/${REPO}/resolve/main/vocab.json`]: '{"a": 0}',
      [`/${REPO}/resolve/main/merges.txt`]: '#version: 0.2\na b\n',
    },
    async (base, cache, paths) => {
      const files = await downloadModel(`hf-hub:${REPO}`, { baseUrl: base, cacheDir: cache, progress: false });
      assert.equal(files.kind, 'huggingface');
      if (files.kind !== 'huggingface') return;
      assert.equal(files.config, join(cache, 'hf', REPO, 'open_clip_config.json'));
      assert.equal(files.weights, join(cache, 'hf', REPO, 'open_clip_pytorch_model.bin'));
      assert.ok(paths.includes(`/${REPO}/resolve/main/config.json`), 'the transformers layout is tried first');
    },
  ));

test('a repository with no weights file at all names every file it tried', () =>
  withHub(repoFiles({}), async (base, cache) => {
    await assert.rejects(
      downloadModel(`hf-hub:${REPO}`, { baseUrl: base, cacheDir: cache, progress: false }),
      (e: Error) =>
        e instanceof DownloadError &&
        e.status === 404 &&
        e.message.includes('model.safetensors') &&
        e.message.includes('pytorch_model.bin'),
    );
  }));
