// `clip embed --queue … --out dir --status`: how far a run is, who works on it and how fast.
// Progress comes from the shard markers on disk (the truth about results); queue counts, the
// failed jobs and per-worker speed come from Redis (completed jobs keep their JobResult).

import type { Job, Queue } from 'bullmq';
import { InputError } from '../errors.js';
import type { EmbedJob, JobResult, RunSpec } from './job.js';
import { readRunSpec } from './manifest.js';
import { doneShards } from './shard.js';

export type EmbedQueue = Queue<EmbedJob, JobResult>;

/** Failed jobs of this run whose shard is still missing (a later successful retry clears them). */
export async function failedJobs(
  queue: EmbedQueue,
  spec: RunSpec,
  done: ReadonlySet<number>,
): Promise<Job<EmbedJob>[]> {
  const failed = (await queue.getFailed(0, -1)) as Job<EmbedJob>[];
  return failed.filter((j) => j.data.runId === spec.runId && !done.has(j.data.shard));
}

/** Images per second of each worker seen in the last `windowMs`: its images over its busy wall time. */
export async function workerRates(queue: EmbedQueue, windowMs = 60_000): Promise<Map<string, number>> {
  const since = Date.now() - windowMs;
  const recent = ((await queue.getCompleted(0, 999)) as Job<EmbedJob, JobResult>[]).filter(
    (j) => (j.finishedOn ?? 0) > since && j.returnvalue,
  );
  const byWorker = new Map<string, { images: number; first: number; last: number }>();
  for (const j of recent) {
    const w = byWorker.get(j.returnvalue.worker) ?? { images: 0, first: Infinity, last: 0 };
    w.images += j.returnvalue.images;
    const finished = j.finishedOn ?? 0; // set on every completed job
    w.first = Math.min(w.first, j.processedOn ?? finished);
    w.last = Math.max(w.last, finished);
    byWorker.set(j.returnvalue.worker, w);
  }
  return new Map([...byWorker].map(([name, w]) => [name, w.images / Math.max((w.last - w.first) / 1000, 1e-3)]));
}

const imagesIn = (spec: RunSpec, shard: number) => Math.min(spec.shardSize, spec.images - shard * spec.shardSize);

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return 'unknown';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.round(seconds % 60);
  return h ? `${h}h ${m}m` : m ? `${m}m ${s}s` : `${s}s`;
}

/** The status report, as lines of text. */
export async function statusReport(queue: EmbedQueue, out: string): Promise<string> {
  const spec = readRunSpec(out);
  if (!spec) throw new InputError(`--out ${out}: no queued run here (expected ${out}/.run/run.json)`);
  const done = doneShards(out);
  const failed = await failedJobs(queue, spec, done);
  const counts = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed');
  const rates = await workerRates(queue);
  let remaining = 0;
  for (let s = 0; s < spec.shards; s++) if (!done.has(s)) remaining += imagesIn(spec, s);
  const total = [...rates.values()].reduce((a, b) => a + b, 0);
  const lines = [
    `run ${spec.runId} (${spec.model.ref}): ${done.size}/${spec.shards} shards written, ${failed.length} failed; ` +
      `${remaining} of ${spec.images} images to go`,
    `queue: ${(counts.waiting ?? 0) + (counts.prioritized ?? 0)} waiting, ${counts.active} active, ` +
      `${counts.delayed} delayed (retrying), ${counts.completed} completed, ${counts.failed} failed`,
    ...[...rates].map(([name, rate]) => `worker ${name}: ${rate.toFixed(1)} images/s`),
    `${rates.size} workers active in the last minute, ${total.toFixed(1)} images/s in all; ` +
      `ETA ${remaining === 0 ? 'done' : duration(remaining / total)}`,
    ...failed.map((j) => `failed shard ${j.data.shard}: ${j.failedReason}`),
  ];
  return lines.join('\n');
}
