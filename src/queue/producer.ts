// `clip embed --queue URL … --out dir`: plans a run (shards of the input list), records it in the
// output folder, enqueues one job per shard not yet written, and follows progress until every
// shard is on disk, then writes manifest.json. Stopping and restarting it is safe: the run id and
// job ids come from the run's content, written shards are skipped, jobs already in Redis are not
// added twice, and jobs that failed are retried.

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { InputError } from '../errors.js';
import type { LoadOptions } from '../index.js';
import { connectRedis } from './connection.js';
import {
  expandInputs,
  jobId,
  jobsOf,
  planShards,
  QUEUE_NAME,
  runIdOf,
  type EmbedJob,
  type RunSettings,
  type RunSpec,
} from './job.js';
import { claimOutput, writeManifestIfComplete } from './manifest.js';
import { modelFingerprint } from './model.js';
import { doneShards } from './shard.js';
import { failedJobs, statusReport, type EmbedQueue } from './status.js';

export interface QueuedEmbedOptions {
  queue: string;
  out: string;
  model: string;
  batchSize: number;
  /** Images per job and per output shard; a multiple of batchSize (default: batchSize, one batch per job). */
  shardSize?: number;
  fastJpeg: boolean;
  normalize: boolean;
  float16: boolean;
  /** Enqueue and return without waiting. */
  detach: boolean;
  /** Only print the run's status. */
  status: boolean;
  load: LoadOptions;
  /** How often progress is checked while following (ms). */
  pollMs?: number;
}

/** Attempts for a job that throws (a disk or Redis hiccup); a dead worker is the stall rule's business. */
const JOB_OPTIONS = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 2000 },
  removeOnComplete: { count: 1000 },
  removeOnFail: false,
};
const ADD_CHUNK = 1000;

/** Runs the producer side; returns the exit code (1 when images or batches failed). */
export async function runQueuedEmbed(inputs: readonly string[], o: QueuedEmbedOptions): Promise<number> {
  if (!o.out)
    throw new InputError('--queue needs --out <dir>: the folder (shared with the workers) that receives the shards');
  const shardSize = o.shardSize ?? o.batchSize;
  if (!(shardSize > 0) || shardSize % o.batchSize !== 0) {
    throw new InputError(
      `--shard-size ${shardSize} must be a positive multiple of --batch-size ${o.batchSize} ` +
        '(so batches match a single-process run)',
    );
  }
  const out = resolve(o.out);
  const { redis, ready } = connectRedis(o.queue, { giveUpAfter: 10 });
  await ready;
  const queue: EmbedQueue = new Queue(QUEUE_NAME, { connection: redis });
  queue.on('error', () => undefined); // connection trouble is reported by connectRedis
  try {
    if (o.status) {
      console.log(await statusReport(queue, out));
      return 0;
    }
    const run = await enqueue(queue, inputs, out, { ...o, shardSize });
    return o.detach ? 0 : await follow(queue, run, o.pollMs ?? 1000);
  } finally {
    await queue.close();
    await redis.quit().catch(() => undefined);
  }
}

async function enqueue(
  queue: EmbedQueue,
  inputs: readonly string[],
  out: string,
  o: QueuedEmbedOptions & { shardSize: number },
): Promise<{ spec: RunSpec; jobs: EmbedJob[] }> {
  const paths = expandInputs(inputs);
  if (paths.length === 0)
    throw new InputError(
      'no images to embed (give image files, folders, .txt lists of paths or WebDataset .tar shards)',
    );
  const ref = existsSync(o.model) ? resolve(o.model) : o.model;
  const settings: RunSettings = {
    model: { ref, sha256: await modelFingerprint(ref, o.load) },
    batchSize: o.batchSize,
    shardSize: o.shardSize,
    preprocess: { fastJpeg: Boolean(o.fastJpeg) },
    output: { dtype: o.float16 ? 'float16' : 'float32', normalize: Boolean(o.normalize) },
  };
  const { inputs: file, ranges } = planShards(paths, o.shardSize);
  const spec: RunSpec = {
    ...settings,
    runId: runIdOf(settings, out, file),
    out,
    images: paths.length,
    shards: ranges.length,
  };
  await claimOutput(spec, file);

  const done = doneShards(out);
  // Complete already (the workers' count of it may have been lost with Redis): make sure of the manifest.
  if (done.size === spec.shards) await writeManifestIfComplete(out);
  const jobs = jobsOf(spec, ranges);
  const missing = await addMissing(queue, jobs, done);
  const failed = await failedJobs(queue, spec, done);
  await Promise.all(failed.map((job) => job.retry('failed')));
  console.error(
    `run ${spec.runId}: ${spec.images} images in ${spec.shards} shards; ${done.size} already written, ` +
      `${missing - failed.length} queued${failed.length ? `, ${failed.length} failed ones retried` : ''}`,
  );
  return { spec, jobs };
}

/** Adds the jobs of shards not on disk (BullMQ ignores ids it already holds); returns how many shards are missing. */
async function addMissing(queue: EmbedQueue, jobs: readonly EmbedJob[], done: ReadonlySet<number>): Promise<number> {
  const todo = jobs.filter((job) => !done.has(job.shard));
  for (let i = 0; i < todo.length; i += ADD_CHUNK) {
    await queue.addBulk(
      todo
        .slice(i, i + ADD_CHUNK)
        .map((data) => ({ name: 'embed', data, opts: { ...JOB_OPTIONS, jobId: jobId(data.runId, data.shard) } })),
    );
  }
  return todo.length;
}

/** Polls with nothing waiting or running while shards are missing before the jobs count as lost (a Redis restart). */
const LOST_AFTER_POLLS = 3;

async function follow(
  queue: EmbedQueue,
  { spec, jobs }: { spec: RunSpec; jobs: readonly EmbedJob[] },
  pollMs: number,
): Promise<number> {
  let last = '';
  let idle = 0;
  for (;;) {
    const done = doneShards(spec.out);
    const failed = await failedJobs(queue, spec, done);
    const line = `${done.size}/${spec.shards} shards written${failed.length ? `, ${failed.length} failed` : ''}`;
    if (line !== last) console.error(line);
    last = line;
    if (done.size + failed.length >= spec.shards) {
      if (failed.length) return reportFailed(failed, spec);
      break;
    }
    // Redis restarted without persistence loses the queue, while the shards on disk stay the truth.
    const counts = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed');
    idle = Object.values(counts).some((n) => n > 0) ? 0 : idle + 1;
    if (idle >= LOST_AFTER_POLLS) {
      const missing = await addMissing(queue, jobs, done);
      console.error(
        `clip: Redis holds no job for the ${missing} unwritten shards (restarted without persistence?); ` +
          'queued them again',
      );
      idle = 0;
    }
    await sleep(pollMs);
  }
  const manifest = await writeManifestIfComplete(spec.out);
  if (!manifest) throw new Error(`${spec.out}: every shard is done but the manifest could not be written`);
  console.error(
    `embedded ${manifest.images} images into ${spec.out}` +
      (manifest.failed ? `; ${manifest.failed} images failed (ok:false rows in the .jsonl files)` : ''),
  );
  return manifest.failed ? 1 : 0;
}

function reportFailed(failed: readonly { data: EmbedJob; failedReason: string }[], spec: RunSpec): number {
  for (const job of failed.slice(0, 5)) console.error(`clip: shard ${job.data.shard} failed: ${job.failedReason}`);
  console.error(
    `clip: ${failed.length} of ${spec.shards} batches failed; ` +
      'fix the cause and run the same command again to retry them',
  );
  return 1;
}
