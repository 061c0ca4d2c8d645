// `clip worker`: embeds the jobs that `clip embed --queue` puts on a Redis queue.
import type { Command } from 'commander';
import { runWorker } from '../queue/worker.js';
import { loadOptions, modelOptions } from './options.js';

const positive = (flag: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} expects a positive integer, got "${v}"`);
  return n;
};

export function registerWorker(program: Command): void {
  const cmd = program
    .command('worker')
    .description('take embedding jobs from a Redis queue (see clip embed --queue) until SIGTERM');
  modelOptions(cmd);
  // No default model here: without --model, each job's own model is loaded when it first arrives.
  const model = cmd.options.find((option) => option.long === '--model');
  if (!model) throw new Error('modelOptions() no longer defines --model');
  model.default(undefined);
  cmd.setOptionValueWithSource('model', undefined, 'default');
  cmd
    .requiredOption('--queue <redis-url>', 'redis://[user:password@]host:port/db, or rediss:// for TLS')
    .option(
      '--concurrency <n>',
      'jobs run at once in this process (they share the model)',
      positive('--concurrency'),
      1,
    )
    .option(
      '--stall-ms <ms>',
      'lock time: a job of a worker that died is taken over after this long',
      positive('--stall-ms'),
      30_000,
    )
    .addHelpText(
      'after',
      `
Every worker must see the images and the --out folder of \`clip embed --queue\` under the same paths
(a shared filesystem). --model loads a model before the first job (otherwise each job's model is
loaded when it first arrives: a name is downloaded unless --offline, a path must exist here); a job
runs only with a model whose sha256 equals the one the producer hashed, else it fails with the reason.

Example:
  clip worker --queue redis://queue-host:6379/0 --model ViT-B/32 --threads 4 --concurrency 1`,
    )
    .action(async (o: Record<string, unknown>) => {
      await runWorker({
        queue: o.queue as string,
        concurrency: o.concurrency as number,
        stallMs: o.stallMs as number,
        model: o.model as string | undefined,
        load: loadOptions(o),
      });
    });
}
