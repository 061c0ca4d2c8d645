// The queue's costs, for docs/scaling.md (never part of `npm test`):
//   node dist/bench/queue.js [--models ViT-B/32,RN50] [--images 64] [--workers 8] [--jobs 20000] [--skip-models]
// 1. Per-worker throughput: a worker's whole job (read + hash + decode + preprocess + model +
//    shard write) over `--images` 640×480 JPEGs, with random weights of the real size (fp16
//    checkpoint, like OpenAI's), at 1 and 2 intra-op threads.
// 2. Queue overhead: a real redis-server, `--workers` worker processes × 1 thread, `--jobs`
//    one-image jobs with a tiny model, so that nearly all of a job's cost is the queue and the
//    shard files. CPU time of the workers (after start-up) and of Redis per job, against the
//    same jobs run in a loop without a queue; Redis commands per job from INFO commandstats.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { load } from '../src/index.js';
import { embedShard } from '../src/queue/embed-shard.js';
import { jobsOf, planShards, runIdOf, type EmbedJob, type RunSettings, type RunSpec } from '../src/queue/job.js';
import { claimOutput, manifestPath } from '../src/queue/manifest.js';
import { modelFingerprint } from '../src/queue/model.js';
import { runQueuedEmbed } from '../src/queue/producer.js';
import { writeTinyModel } from '../test/queue-setup.js';
import { startRedis } from '../test/redis-server.js';
import { writeRandomCheckpoint } from './models.js';
import { positiveInt } from './text-timing.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
const log = (line: string) => console.error(line);

/** Photo-like JPEGs: smooth random colour fields (noise JPEGs would decode unrealistically slowly). */
async function writePhotos(dir: string, count: number): Promise<string[]> {
  let seed = 3;
  const next = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    const small = Buffer.from(Array.from({ length: 16 * 12 * 3 }, next));
    const path = join(dir, `photo-${i}.jpg`);
    await sharp(small, { raw: { width: 16, height: 12, channels: 3 } })
      .resize(640, 480, { kernel: 'cubic' })
      .jpeg({ quality: 85 })
      .toFile(path);
    paths.push(path);
  }
  return paths;
}

/** The jobs of a run over `paths`, recorded in a fresh folder as the producer records it. */
async function localRun(
  dir: string,
  model: string,
  paths: string[],
  batchSize: number,
  shardSize: number,
): Promise<EmbedJob[]> {
  const out = mkdtempSync(join(dir, 'out-'));
  const settings: RunSettings = {
    model: { ref: model, sha256: await modelFingerprint(model) },
    batchSize,
    shardSize,
    preprocess: { fastJpeg: false },
    output: { dtype: 'float32', normalize: false },
  };
  const { inputs, ranges } = planShards(paths, shardSize);
  const spec: RunSpec = {
    ...settings,
    runId: runIdOf(settings, out, inputs),
    out,
    images: paths.length,
    shards: ranges.length,
  };
  await claimOutput(spec, inputs);
  return jobsOf(spec, ranges);
}

async function workerThroughput(dir: string, name: string, photos: string[]): Promise<void> {
  const checkpoint = join(dir, `${name.replace('/', '-')}.pt`);
  log(`${name}: writing a random fp16 checkpoint`);
  await writeRandomCheckpoint(name, checkpoint);
  for (const threads of [1, 2]) {
    const clip = await load(checkpoint, { threads });
    const [warm] = await localRun(dir, checkpoint, photos.slice(0, 32), 32, 32);
    await embedShard(warm!, clip);
    const [job] = await localRun(dir, checkpoint, photos, 32, photos.length);
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    await embedShard(job!, clip);
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    console.log(
      JSON.stringify({
        bench: 'worker',
        model: name,
        threads,
        images: photos.length,
        batch: 32,
        seconds: +seconds.toFixed(2),
        images_per_s: +(photos.length / seconds).toFixed(2),
        // CPU time of every thread of the process: on a busy shared machine, images per CPU-second
        // is the per-core figure.
        cpu_s: +cpuSeconds.toFixed(2),
        images_per_cpu_s: +(photos.length / cpuSeconds).toFixed(2),
      }),
    );
    await clip.model.release();
  }
  rmSync(checkpoint, { force: true });
}

/** user + system CPU seconds of a process so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** Commands executed (those run inside BullMQ's Lua scripts included), per command, and Redis's CPU seconds. */
async function redisStats(redis: Redis): Promise<{ calls: Map<string, number>; cpu: number }> {
  const stats = await redis.info('commandstats');
  const calls = new Map([...stats.matchAll(/cmdstat_(\S+?):calls=(\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
  const cpu = await redis.info('cpu');
  const seconds = (key: string) => Number(new RegExp(`${key}:([\\d.]+)`).exec(cpu)![1]);
  return { calls, cpu: seconds('used_cpu_sys') + seconds('used_cpu_user') };
}

/** `clip embed --queue … --detach` of `count` one-image jobs, all the same image (listed in a .txt). */
async function enqueueCopies(queue: string, out: string, model: string, image: string, count: number): Promise<void> {
  const list = `${out}.txt`;
  writeFileSync(list, `${image}\n`.repeat(count));
  const flags = { fastJpeg: false, normalize: false, float16: false, detach: true, status: false };
  await runQueuedEmbed([list], { queue, out, model, batchSize: 1, shardSize: 1, ...flags, load: {} });
}

async function queueOverhead(dir: string, workers: number, jobs: number): Promise<void> {
  const model = writeTinyModel(dir);
  const image = join(dir, 'small.png');
  await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 120, g: 60, b: 30 } } })
    .png()
    .toFile(image);

  log(`local baseline: 500 one-image jobs in a loop, no queue`);
  const clip = await load(model, { threads: 1 });
  const local = await localRun(dir, model, new Array(500).fill(image), 1, 1);
  const before = process.cpuUsage();
  for (const job of local) await embedShard(job, clip);
  const used = process.cpuUsage(before);
  const localCpuMs = (used.user + used.system) / 1000 / local.length;

  const redisServer = await startRedis();
  const redis = new Redis(redisServer.url);
  // Redis memory per waiting job, in a database no worker listens to.
  const memory = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
  const memoryBefore = await memory();
  const waiting = 2000;
  await enqueueCopies(`${redisServer.url}/1`, join(dir, 'waiting'), model, image, waiting);
  const bytesPerWaitingJob = ((await memory()) - memoryBefore) / waiting;

  log(`starting ${workers} workers`);
  const children = Array.from({ length: workers }, () =>
    spawn(process.execPath, [CLI, 'worker', '--queue', redisServer.url, '--threads', '1'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  const ready = await Promise.all(
    children.map(
      (child) =>
        new Promise<number>((resolve) => {
          child.stdout.on('data', function first(chunk: Buffer) {
            if (!chunk.toString().includes('waiting for jobs')) return;
            child.stdout.off('data', first);
            child.stdout.resume();
            resolve(cpuSeconds(child.pid!));
          });
        }),
    ),
  );
  const redisBefore = await redisStats(redis);
  const out = join(dir, 'queued');
  const started = performance.now();
  await enqueueCopies(redisServer.url, out, model, image, jobs);
  const enqueued = performance.now();
  for (let i = 0; i < 36_000 && !existsSync(manifestPath(out)); i++) await sleep(50);
  const wall = (performance.now() - started) / 1000;
  const workerCpu = children.reduce((sum, child, i) => sum + cpuSeconds(child.pid!) - ready[i]!, 0);
  const redisAfter = await redisStats(redis);
  for (const child of children) child.kill('SIGTERM');
  await Promise.all(children.map((child) => new Promise((resolve) => child.on('close', resolve))));
  await redis.quit();
  await redisServer.stop();
  await clip.model.release();
  const perJob = (x: number) => +((x / jobs) * 1000).toFixed(3);
  const commands = [...redisAfter.calls]
    .map(([name, n]) => [name, (n - (redisBefore.calls.get(name) ?? 0)) / jobs] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  console.log(
    JSON.stringify({
      bench: 'queue',
      workers,
      jobs,
      cores: cpus().length,
      complete: existsSync(manifestPath(out)),
      enqueue_s: +((enqueued - started) / 1000).toFixed(2),
      wall_s: +wall.toFixed(1),
      jobs_per_s: +(jobs / wall).toFixed(1),
      worker_cpu_ms_per_job: perJob(workerCpu),
      redis_cpu_ms_per_job: perJob(redisAfter.cpu - redisBefore.cpu),
      local_cpu_ms_per_job: +localCpuMs.toFixed(3),
      queue_overhead_cpu_ms_per_job: +(perJob(workerCpu + redisAfter.cpu - redisBefore.cpu) - localCpuMs).toFixed(3),
      redis_bytes_per_waiting_job: Math.round(bytesPerWaitingJob),
      redis_commands_per_job: +commands.reduce((n, [, c]) => n + c, 0).toFixed(1),
      scripts_per_job: +commands
        .filter(([name]) => name.startsWith('eval'))
        .reduce((n, [, c]) => n + c, 0)
        .toFixed(2),
      top_commands_per_job: Object.fromEntries(commands.slice(0, 8).map(([name, n]) => [name, +n.toFixed(2)])),
    }),
  );
}

const o = new Command('bench-queue')
  .option('--models <names>', 'models for the per-worker throughput', (v) => v.split(','), ['ViT-B/32', 'RN50'])
  .option('--images <n>', 'images per throughput measurement', positiveInt, 64)
  .option('--workers <n>', 'worker processes in the queue simulation', positiveInt, 8)
  .option('--jobs <n>', 'one-image jobs in the queue simulation', positiveInt, 20_000)
  .option('--skip-models', 'only the queue simulation')
  .parse()
  .opts<{ models: string[]; images: number; workers: number; jobs: number; skipModels?: boolean }>();

const dir = mkdtempSync(join(tmpdir(), 'clip-bench-queue-'));
try {
  if (!o.skipModels) {
    const photos = await writePhotos(dir, o.images);
    for (const name of o.models) await workerThroughput(dir, name, photos);
  }
  await queueOverhead(dir, o.workers, o.jobs);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
