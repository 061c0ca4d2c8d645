// The queue end to end with a real redis-server on loopback (skipped loudly without one): three
// `clip worker` processes, one SIGKILLed in the middle of a batch; every input must come out
// exactly once with features bit-identical to a single-process `clip embed` with the same batch
// size, the corrupt image must be an ok:false row, and restarting the producer must not add jobs.
// Then a job whose model the worker does not have ends in the failed set, shown by --status.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { randomStateDict } from '../src/models/random.js';
import { QUEUE_NAME } from '../src/queue/job.js';
import type { Manifest } from '../src/queue/manifest.js';
import { decodeNpy } from '../src/npy.js';
import type { ShardRow } from '../src/queue/shard.js';
import { writeSafetensors } from '../src/weights/safetensors.js';
import { TINY, writeImages, writeTinyModel } from './queue-setup.js';
import { needsRedis, startRedis, type TestRedis } from './redis-server.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
const skip = needsRedis();
let redis: TestRedis;
let dir = '';
let model = '';
let images = '';

before(async () => {
  if (skip) return;
  redis = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'clip-queue-'));
  model = writeTinyModel(dir);
  images = await writeImages(dir, 40);
});
after(async () => {
  for (const child of running) child.kill('SIGKILL'); // only after a failed assertion
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Cli {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  exit: Promise<{ code: number | null; signal: string | null }>;
}

/** `clip …` as a child process; its output lines are collected as they come. */
const running = new Set<ChildProcess>();
function cli(
  args: readonly string[],
  onLine?: (line: string) => void,
  onErrorLine?: (line: string) => void,
  env: NodeJS.ProcessEnv = {},
): Cli {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, CLIP_OFFLINE: '1', CLIP_CACHE_DIR: join(dir, 'cache'), ...env },
  });
  running.add(child);
  child.on('exit', () => running.delete(child));
  const stdout: string[] = [];
  const stderr: string[] = [];
  const collect = (lines: string[], live?: (line: string) => void) => {
    let rest = '';
    return (chunk: Buffer) => {
      const parts = (rest + chunk.toString()).split('\n');
      rest = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        live?.(line);
      }
    };
  };
  child.stdout!.on('data', collect(stdout, onLine));
  child.stderr!.on('data', collect(stderr, onErrorLine));
  const exit = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout, stderr, exit };
}

async function jobCount(url: string): Promise<number> {
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  const queue = new Queue(QUEUE_NAME, { connection });
  const counts = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed');
  await queue.close();
  await connection.quit();
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

const readRows = (out: string, file: string) =>
  readFileSync(join(out, file), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as ShardRow);

test('three workers, one SIGKILLed mid-batch: every image exactly once, features equal to clip embed', {
  skip,
  timeout: 120_000,
}, async () => {
  const started = performance.now();
  const url = `${redis.url}/0`;
  const out = join(dir, 'out');
  const run = ['-m', model, '-b', '2', '--threads', '1'];
  const queued = ['embed', '--queue', url, images, '--out', out, '--shard-size', '8', ...run];

  const single = cli(['embed', images, ...run]);
  const first = cli([...queued, '--detach']);
  assert.equal((await first.exit).code, 0, first.stderr.join('\n'));
  assert.match(first.stderr.join('\n'), /41 images in 6 shards; 0 already written, 6 queued/);
  const again = cli([...queued, '--detach']);
  assert.equal((await again.exit).code, 0);
  assert.equal(await jobCount(url), 6, 'a restarted producer adds no job');

  // The first worker to start a batch is killed right there; the others take its batch over once its lock expires.
  let victim: { worker: number; shard: string } | undefined;
  const workers: Cli[] = [];
  for (let w = 0; w < 3; w++) {
    workers.push(
      cli(['worker', '--queue', url, '--stall-ms', '3000', '--threads', '1'], (line) => {
        const started = /shard (\d+): start/.exec(line);
        if (started && !victim) {
          victim = { worker: w, shard: started[1]! };
          workers[w]!.child.kill('SIGKILL');
        }
      }),
    );
  }
  const follower = cli(queued);
  assert.equal((await single.exit).code, 1, 'the corrupt image makes clip embed exit 1');
  const reference = new Map(
    single.stdout
      .map((l) => JSON.parse(l) as { image: string; embedding: number[] })
      .map((e) => [e.image, Float32Array.from(e.embedding)]),
  );
  assert.equal(reference.size, 40);
  const followed = await follower.exit;
  assert.equal(followed.code, 1, follower.stderr.join('\n'));
  assert.match(follower.stderr.join('\n'), /embedded 41 images into .*; 1 images failed/);

  assert.ok(victim, 'a worker was killed');
  const killed = workers[victim.worker]!;
  assert.equal((await killed.exit).signal, 'SIGKILL');
  const doneLine = new RegExp(`shard ${victim.shard}: done`);
  assert.ok(
    !killed.stdout.some((l) => doneLine.test(l)),
    `the killed worker had not finished shard ${victim.shard}: ${killed.stdout.join(' | ')}`,
  );
  const survivors = workers.filter((_, w) => w !== victim!.worker);
  assert.ok(
    survivors.some((s) => s.stdout.some((l) => doneLine.test(l))),
    'another worker took the killed batch over',
  );

  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as Manifest;
  assert.equal(manifest.complete, true);
  assert.deepEqual(
    { images: manifest.images, failed: manifest.failed, dim: manifest.dim, dtype: manifest.dtype },
    { images: 41, failed: 1, dim: 8, dtype: 'float32' },
  );
  const seen = new Map<string, number>();
  for (const shard of manifest.shards) {
    const rows = readRows(out, shard.metadata);
    const npy = decodeNpy(readFileSync(join(out, shard.embeddings)));
    assert.deepEqual(npy.shape, [shard.rows, 8]);
    assert.equal(rows.length, shard.rows);
    const values = new Float32Array(npy.data.slice().buffer);
    rows.forEach((row, i) => {
      seen.set(row.path, (seen.get(row.path) ?? 0) + 1);
      const got = values.subarray(i * 8, (i + 1) * 8);
      if (row.ok) assert.deepEqual(got, reference.get(row.path), row.path);
      else {
        assert.match(row.error, /broken\.jpg: not a readable image/);
        assert.deepEqual([...got], new Array(8).fill(0));
      }
    });
  }
  assert.equal(seen.size, 41, 'no image lost');
  assert.ok(
    [...seen.values()].every((n) => n === 1),
    'no image twice',
  );

  rmSync(join(out, 'manifest.json'));
  const restarted = cli([...queued, '--detach']);
  assert.equal((await restarted.exit).code, 0);
  assert.match(restarted.stderr.join('\n'), /6 already written, 0 queued/);
  assert.equal(await jobCount(url), 6, 'no duplicate jobs after the run either');
  assert.deepEqual(
    JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')),
    manifest,
    'a complete run gets its manifest back',
  );

  for (const s of survivors) s.child.kill('SIGTERM');
  for (const s of survivors) assert.equal((await s.exit).code, 0, 'SIGTERM stops a worker cleanly');
  console.log(
    `kill test: 6 jobs (41 images, 8 per job), 3 workers, 1 SIGKILL mid-batch (shard ${victim.shard}), 0 lost, ` +
      `0 duplicates, ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
});

test('a job whose model the worker does not have goes to the failed set with the reason; --status shows it', {
  skip,
  timeout: 60_000,
}, async () => {
  const url = `${redis.url}/1`;
  const out = join(dir, 'out-refused');
  const elsewhere = join(dir, 'model-copy');
  cpSync(model, elsewhere, { recursive: true });
  let queuedUp!: () => void;
  const enqueued = new Promise<void>((resolve) => {
    queuedUp = resolve;
  });
  const producer = cli(
    ['embed', '--queue', url, join(images, 'photo-000.jpg'), '--out', out, '-m', elsewhere],
    undefined,
    (line) => {
      if (/1 queued/.test(line)) queuedUp();
    },
  );
  await enqueued;
  // The worker's copy of the model is not the one the producer hashed.
  writeSafetensors(join(elsewhere, 'model.safetensors'), randomStateDict(TINY, 99));
  const worker = cli(['worker', '--queue', url, '--stall-ms', '1500', '--threads', '1']);
  assert.equal((await producer.exit).code, 1);
  assert.match(
    producer.stderr.join('\n'),
    /shard 0 failed: model .*model-copy: this worker's copy has sha256 [0-9a-f]{64}, the job asks for [0-9a-f]{64}/,
  );
  const status = cli(['embed', '--queue', url, '--out', out, '--status']);
  assert.equal((await status.exit).code, 0, status.stderr.join('\n'));
  const report = status.stdout.join('\n');
  assert.match(report, /0\/1 shards written, 1 failed; 1 of 1 images to go/);
  assert.match(report, /queue: 0 waiting, 0 active, 0 delayed \(retrying\), 0 completed, 1 failed/);
  assert.match(report, /failed shard 0: model .* this worker's copy has sha256/);
  worker.child.kill('SIGTERM');
  assert.equal((await worker.exit).code, 0);
});

test('a batch that crashes its worker twice goes to the failed set instead of being retried forever', {
  skip,
  timeout: 60_000,
}, async () => {
  const url = `${redis.url}/2`;
  const out = join(dir, 'out-crashing');
  const producer = cli(['embed', '--queue', url, join(images, 'photo-001.jpg'), '--out', out, '-m', model]);
  const kills: string[] = [];
  for (let attempt = 0; attempt < 2; attempt++) {
    const worker = cli(['worker', '--queue', url, '--stall-ms', '1000', '--threads', '1'], (line) => {
      if (/shard 0: start/.test(line)) worker.child.kill('SIGKILL');
    });
    kills.push(String((await worker.exit).signal));
  }
  assert.deepEqual(kills, ['SIGKILL', 'SIGKILL']);
  // Its stall check fails the job.
  const watcher = cli(['worker', '--queue', url, '--stall-ms', '1000', '--threads', '1']);
  assert.equal((await producer.exit).code, 1);
  assert.match(producer.stderr.join('\n'), /shard 0 failed: .*stalled more than allowable limit/);
  assert.ok(!watcher.stdout.some((l) => /shard 0: start/.test(l)), 'the job was not run a third time');
  watcher.child.kill('SIGTERM');
  assert.equal((await watcher.exit).code, 0);
});

test('SIGTERM during a batch lets the worker finish it; the worker writes the manifest of a detached run', {
  skip,
  timeout: 60_000,
}, async () => {
  const url = `${redis.url}/3`;
  const out = join(dir, 'out-sigterm');
  const pair = [join(images, 'photo-002.jpg'), join(images, 'photo-003.jpg')];
  const producer = cli(['embed', '--queue', url, ...pair, '--out', out, '-m', model, '--detach']);
  assert.equal((await producer.exit).code, 0, producer.stderr.join('\n'));
  const worker = cli(['worker', '--queue', url, '--threads', '1'], (line) => {
    if (/shard 0: start/.test(line)) worker.child.kill('SIGTERM');
  });
  assert.equal((await worker.exit).code, 0);
  assert.ok(
    worker.stdout.some((l) => /shard 0: done, 2 images/.test(l)),
    worker.stdout.join(' | '),
  );
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as Manifest;
  assert.deepEqual(
    { complete: manifest.complete, images: manifest.images, failed: manifest.failed },
    {
      complete: true,
      images: 2,
      failed: 0,
    },
  );
});

test('Redis restarting empty mid-run: the producer reconnects, queues the unwritten shards again and completes', {
  skip,
  timeout: 60_000,
}, async () => {
  const url = `${redis.url}/4`;
  let queuedUp!: () => void;
  const enqueued = new Promise<void>((resolve) => {
    queuedUp = resolve;
  });
  const paths = ['photo-004.jpg', 'photo-005.jpg', 'photo-006.jpg'].map((f) => join(images, f));
  const producer = cli(
    ['embed', '--queue', url, ...paths, '--out', join(dir, 'out-restart'), '-m', model, '-b', '1', '--shard-size', '1'],
    undefined,
    (line) => {
      if (/3 queued/.test(line)) queuedUp();
    },
  );
  await enqueued;
  await redis.restart();
  const worker = cli(['worker', '--queue', url, '--threads', '1']);
  assert.equal((await producer.exit).code, 0, producer.stderr.join('\n'));
  const said = producer.stderr.join('\n');
  assert.match(said, /lost the connection to Redis/);
  assert.match(said, /Redis holds no job for the 3 unwritten shards .*; queued them again/);
  assert.match(said, /embedded 3 images into/);
  worker.child.kill('SIGTERM');
  assert.equal((await worker.exit).code, 0);
});

test('TLS (rediss://) and a password in the URL reach Redis; a wrong password is one clear line', {
  skip: skip || (spawnSync('openssl', ['version']).status === 0 ? false : 'SKIPPED: openssl not found'),
  timeout: 60_000,
}, async () => {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const made = spawnSync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ]);
  assert.equal(made.status, 0, String(made.stderr));
  const secure = await startRedis({ tls: { cert, key }, password: 'pa55word' });
  try {
    assert.match(secure.url, /^rediss:\/\/:pa55word@127\.0\.0\.1:\d+$/);
    const env = { NODE_EXTRA_CA_CERTS: cert }; // our self-signed certificate; a real one needs nothing
    const worker = cli(['worker', '--queue', `${secure.url}/0`, '--threads', '1'], undefined, undefined, env);
    const out = join(dir, 'out-tls');
    const producer = cli(
      ['embed', '--queue', `${secure.url}/0`, join(images, 'photo-007.jpg'), '--out', out, '-m', model],
      undefined,
      undefined,
      env,
    );
    assert.equal((await producer.exit).code, 0, producer.stderr.join('\n'));
    assert.ok(
      worker.stdout.some((l) => /waiting for jobs on rediss:\/\/:\*\*\*@127\.0\.0\.1/.test(l)),
      'no password in logs',
    );
    worker.child.kill('SIGTERM');
    assert.equal((await worker.exit).code, 0);
    const wrong = cli(
      ['embed', '--queue', secure.url.replace('pa55word', 'nope'), '--out', out, '--status'],
      undefined,
      undefined,
      env,
    );
    assert.equal((await wrong.exit).code, 1);
    assert.deepEqual(wrong.stderr, [
      `clip: cannot use Redis at ${secure.url.replace('pa55word', '***')}: ` +
        'WRONGPASS invalid username-password pair or user is disabled.',
    ]);
  } finally {
    await secure.stop();
  }
});
