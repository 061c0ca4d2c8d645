// `clip worker`: takes jobs from the queue, embeds them and writes their shards. BullMQ gives the
// delivery guarantees: a job is locked while a worker runs it and the lock is renewed; when a
// worker dies (even SIGKILL) the lock expires after `stallMs`, another worker's stall check moves
// the job back to the waiting list, and a job that stalls a second time goes to the failed set
// (a batch that kills its worker twice is not retried forever). Results stay exactly-once because
// a shard's files are replaced, never appended (shard.ts).

import { hostname } from 'node:os';
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { LoadOptions } from '../index.js';
import { connectRedis, redactUrl } from './connection.js';
import { embedShard } from './embed-shard.js';
import { QUEUE_NAME, type EmbedJob, type JobResult } from './job.js';
import { writeManifestIfComplete } from './manifest.js';
import { ModelRefusedError, WorkerModels } from './model.js';

export interface WorkerOptions {
  /** redis:// or rediss:// URL. */
  queue: string;
  /** Jobs run at once by this process (they share the loaded model). */
  concurrency: number;
  /** Lock duration: a dead worker's job is taken over after this long. */
  stallMs: number;
  /** A model to load before taking jobs (others are loaded when a job asks for them). */
  model?: string;
  load: LoadOptions;
  /** One line per event (default: stdout). */
  log?: (line: string) => void;
}

/** Redis set of a run's written shards: when its size reaches the run's shard count, the manifest is due. */
const doneKey = (runId: string) => `${QUEUE_NAME}:done:${runId}`;
const DONE_SET_TTL_S = 30 * 24 * 3600;

async function recordShard(redis: Redis, job: EmbedJob): Promise<void> {
  const key = doneKey(job.runId);
  const replies = await redis.multi().sadd(key, String(job.shard)).scard(key).expire(key, DONE_SET_TTL_S).exec();
  if (Number(replies?.[1]?.[1]) >= job.shards) await writeManifestIfComplete(job.out);
}

/**
 * Loads the model of the next waiting job before taking any: loading takes seconds for real
 * checkpoints, and a worker that dies then holds no job (each stall brings a job closer to the
 * failed set). A model this worker cannot get is left to that job to report.
 */
async function loadNextJobsModel(redis: Redis, models: WorkerModels, log: (line: string) => void): Promise<void> {
  const queue = new Queue<EmbedJob>(QUEUE_NAME, { connection: redis });
  try {
    const [next] = await queue.getWaiting(0, 0);
    if (next) {
      await models.get(next.data.model);
      log(`loaded ${next.data.model.ref} (sha256 ${next.data.model.sha256}), the next job's model`);
    }
  } catch {
    // reported by the job
  } finally {
    await queue.close();
  }
}

/** Runs until SIGTERM/SIGINT (the current jobs finish first; a second signal stops at once). */
export async function runWorker(o: WorkerOptions): Promise<void> {
  const log = o.log ?? ((line: string) => console.log(line));
  const name = `${hostname()}:${process.pid}`;
  const models = new WorkerModels(o.load);
  if (o.model) log(`loaded ${o.model} (sha256 ${await models.preload(o.model)})`);
  const { redis, ready, isDown } = connectRedis(o.queue);
  await ready;
  if (!o.model) await loadNextJobsModel(redis, models, log);

  const processJob = async (job: Job<EmbedJob, JobResult>): Promise<JobResult> => {
    const { data } = job;
    const clip = await models.get(data.model).catch((e: Error) => {
      throw e instanceof ModelRefusedError ? new UnrecoverableError(e.message) : e;
    });
    const label = `run ${data.runId} shard ${data.shard}`;
    log(`${label}: start (${data.inputs.count} images)`);
    const started = performance.now();
    const { images, failed } = await embedShard(data, clip);
    const seconds = (performance.now() - started) / 1000;
    await recordShard(redis, data);
    log(`${label}: done, ${images} images in ${seconds.toFixed(2)} s${failed ? `, ${failed} failed` : ''}`);
    return { worker: name, images, failed, seconds };
  };

  const worker = new Worker<EmbedJob, JobResult>(QUEUE_NAME, processJob, {
    connection: redis,
    name,
    concurrency: o.concurrency,
    lockDuration: o.stallMs,
    stalledInterval: o.stallMs,
    maxStalledCount: 1,
  });
  worker.on('failed', (job, e) => console.error(`clip: run ${job?.data.runId} shard ${job?.data.shard}: ${e.message}`));
  worker.on('error', (e) => isDown() || console.error(`clip: worker: ${e.message}`));
  log(`worker ${name} waiting for jobs on ${redactUrl(o.queue)} (concurrency ${o.concurrency})`);

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        console.error(`clip: ${signal} again: stopping now; the current jobs are taken over after the stall timeout`);
        process.exit(1);
      }
      stopping = true;
      console.error(`clip: ${signal}: finishing the current jobs, then stopping (send it again to stop now)`);
      worker.close().then(resolve, resolve);
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
  await redis.quit();
}
