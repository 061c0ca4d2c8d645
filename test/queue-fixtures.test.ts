// The queue on the golden fixtures (skipped loudly without ../shared): the reference's rn-tiny in
// its legacy torch format and its 21 test images (animated, CMYK, 16-bit, EXIF-rotated, …)
// embedded by two workers as float16 shards; each row equals single-process `clip embed`'s
// feature rounded to float16, and images clip embed skips are exactly the ok:false rows.
// The self-contained sibling (random tiny model, kill test) is queue-redis.test.ts.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { toFloat16 } from '../src/index.js';
import type { Manifest } from '../src/queue/manifest.js';
import { decodeNpy } from '../src/npy.js';
import type { ShardRow } from '../src/queue/shard.js';
import { needsFixtures, OPENAI_FIXTURES } from './fixtures.js';
import { needsRedis, startRedis } from './redis-server.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');

function clip(args: readonly string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [CLI, ...args], { env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    stdout += c;
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c;
  });
  const exit = new Promise<number | null>((resolve) => child.on('close', resolve));
  return { child, exit, output: () => ({ stdout, stderr }) };
}

test('two workers embed the fixture images with rn-tiny (legacy .pt) as float16 shards equal to clip embed', {
  skip: needsRedis() || needsFixtures(OPENAI_FIXTURES),
  timeout: 120_000,
}, async () => {
  const redis = await startRedis();
  const dir = mkdtempSync(join(tmpdir(), 'clip-queue-fixtures-'));
  const env = { ...process.env, CLIP_OFFLINE: '1', CLIP_CACHE_DIR: join(dir, 'cache') };
  const workers = [0, 1].map(() =>
    clip(
      [
        'worker',
        '--queue',
        redis.url,
        '--threads',
        '1',
        '--model',
        join(OPENAI_FIXTURES, 'models', 'rn-tiny.legacy.pt'),
      ],
      env,
    ),
  );
  try {
    const images = join(OPENAI_FIXTURES, 'images');
    const run = ['-m', join(OPENAI_FIXTURES, 'models', 'rn-tiny.legacy.pt'), '-b', '4', '--threads', '1'];
    const single = clip(['embed', images, ...run], env);
    await single.exit;
    const reference = new Map(
      single
        .output()
        .stdout.trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { image: string; embedding: number[] })
        .map((e) => [e.image, e.embedding]),
    );
    const skipped = [...single.output().stderr.matchAll(/skipped: (.*?): /g)].map((m) => m[1]);

    const out = join(dir, 'out');
    const producer = clip(
      ['embed', '--queue', redis.url, images, '--out', out, '--shard-size', '8', '--float16', ...run],
      env,
    );
    const code = await producer.exit;
    assert.equal(code, skipped.length ? 1 : 0, producer.output().stderr);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as Manifest;
    assert.deepEqual(
      { images: manifest.images, failed: manifest.failed, dtype: manifest.dtype, shards: manifest.shards.length },
      { images: 21, failed: skipped.length, dtype: 'float16', shards: 3 },
    );
    const seen: string[] = [];
    const failed: string[] = [];
    for (const shard of manifest.shards) {
      const rows = readFileSync(join(out, shard.metadata), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as ShardRow);
      const { data, shape } = decodeNpy(readFileSync(join(out, shard.embeddings)));
      const dim = shape[1]!;
      rows.forEach((row, i) => {
        seen.push(row.path);
        if (!row.ok) {
          failed.push(row.path);
          return;
        }
        const want = toFloat16({
          dtype: 'float32',
          shape: [dim],
          bytes: new Uint8Array(Float32Array.from(reference.get(row.path)!).buffer),
        }).bytes;
        assert.deepEqual(data.subarray(i * dim * 2, (i + 1) * dim * 2), want, row.path);
      });
    }
    assert.equal(new Set(seen).size, 21);
    assert.deepEqual(failed, skipped);
  } finally {
    for (const w of workers) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exit));
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
