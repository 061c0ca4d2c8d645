// preprocessBatch(): many inputs → one [N, 3, n, n] tensor, decoded and resized in parallel.
// Decoding (sharp) runs on libuv's thread pool, the resize (WebAssembly) on the thread that asks:
// small batches stay on the calling thread with the next decodes overlapping the current resize;
// larger ones go to one persistent pool of worker threads (piscina), one per core, started on first
// use and kept (unreferenced, so it never holds the process open): each worker loads sharp once, not
// once per batch, so many small batches (embedImages, the index, queue workers) pay no start-up cost.
// libuv's pool is shared by all of them
// and has 4 threads unless UV_THREADPOOL_SIZE says otherwise before its first use, so beyond 4
// cores decoding stops scaling unless the application raises it. Bad inputs are reported and
// skipped.
import { at } from '../checked.js';
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { InputError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { describeInput, type ImageInput } from './decode.js';
import { transformInto } from './transform.js';
import { decodeForTransform, type PreprocessOptions } from './preprocess.js';
import type { WorkerReply, WorkerRequest } from './worker.js';

export interface BatchOptions extends PreprocessOptions {
  /**
   * Worker threads; 1 runs everything on the calling thread (decoding still overlaps on libuv's
   * pool). Default: one per core, but no more than one per IMAGES_PER_WORKER inputs.
   */
  concurrency?: number;
  /** Called after each input, done or failed. */
  onProgress?: (done: number, total: number) => void;
}

export interface BatchFailure {
  /** Position in the inputs. */
  index: number;
  /** The path, or a short description of a buffer / raw pixels. */
  input: string;
  error: Error;
}

export interface BatchResult {
  /** [N, 3, n, n] for the N inputs that succeeded, in input order. */
  tensor: Tensor;
  /** indices[row] = position in the inputs of that row of `tensor`. */
  indices: number[];
  failures: BatchFailure[];
}

export async function preprocessBatch(inputs: readonly ImageInput[], options: BatchOptions): Promise<BatchResult> {
  const { concurrency = defaultConcurrency(inputs.length), onProgress, ...perImage } = options;
  const per = 3 * options.size * options.size;
  const rows: (Float32Array | undefined)[] = new Array(inputs.length);
  const failures: BatchFailure[] = [];
  let done = 0;
  const settle = (index: number, result: Float32Array | Error) => {
    if (result instanceof Error) failures.push({ index, input: describeInput(at(inputs, index)), error: result });
    else rows[index] = result;
    onProgress?.(++done, inputs.length);
  };

  const threads = Math.max(1, Math.min(concurrency, inputs.length));
  if (threads === 1) await runOnThisThread(inputs, perImage, settle);
  else await runOnWorkers(inputs, perImage, threads, settle);

  failures.sort((a, b) => a.index - b.index);
  const kept = rows.flatMap((row, index) => (row ? [{ row, index }] : []));
  const data = new Float32Array(kept.length * per);
  kept.forEach(({ row }, k) => data.set(row, k * per));
  const indices = kept.map((k) => k.index);
  return { tensor: { data, shape: [indices.length, 3, options.size, options.size] }, indices, failures };
}

/**
 * Before the pool is warm, a worker costs about as much CPU to start as preprocessing this many
 * 12 MP photos (each loads its own copy of sharp's JavaScript), so small batches use fewer workers
 * or none.
 */
export const IMAGES_PER_WORKER = 4;

function defaultConcurrency(inputs: number): number {
  const cores = availableParallelism();
  if (pool) return inputs > 1 ? cores : 1;
  return Math.max(1, Math.min(cores, Math.floor(inputs / IMAGES_PER_WORKER)));
}

let pool: Piscina<WorkerRequest, WorkerReply> | undefined;

/** The process-wide preprocessing pool: one worker per core, started on first use, never idle-stopped. */
function sharedPool(): Piscina<WorkerRequest, WorkerReply> {
  const threads = availableParallelism();
  pool ??= new Piscina({
    filename: new URL('./worker.js', import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: Infinity,
  });
  return pool;
}

/** Decodes in flight at once on the calling thread: the next ones decode while this one resizes. */
const DECODES_AHEAD = 2;

async function runOnThisThread(
  inputs: readonly ImageInput[],
  options: PreprocessOptions,
  settle: (index: number, result: Float32Array | Error) => void,
): Promise<void> {
  const per = 3 * options.size * options.size;
  // Settled promises (never rejecting), so a decode that fails ahead of its turn is not unhandled.
  const decode = (i: number) =>
    decodeForTransform(at(inputs, i), options).then(
      (pixels) => ({ pixels }),
      (error: unknown) => ({ error }),
    );
  const ahead: ReturnType<typeof decode>[] = [];
  let next = 0;
  const fill = () => {
    while (next < inputs.length && ahead.length < DECODES_AHEAD) ahead.push(decode(next++));
  };
  fill();
  for (let i = 0; i < inputs.length; i++) {
    const decoded = await (ahead.shift() ?? decode(i));
    fill();
    try {
      if ('error' in decoded) throw decoded.error;
      const row = new Float32Array(per);
      transformInto(decoded.pixels, options, row, 0);
      settle(i, row);
    } catch (e) {
      settle(i, asError(e));
    }
  }
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/** At most `threads` inputs in flight on the shared pool; each settles as soon as its worker replies. */
async function runOnWorkers(
  inputs: readonly ImageInput[],
  options: PreprocessOptions,
  threads: number,
  settle: (index: number, result: Float32Array | Error) => void,
): Promise<void> {
  const workers = sharedPool();
  let next = 0;
  const lane = async () => {
    while (next < inputs.length) {
      const id = next++;
      const reply = await workers.run({ input: at(inputs, id), options });
      if (reply instanceof Float32Array) settle(id, reply);
      else
        settle(
          id,
          reply.error.name === 'InputError'
            ? new InputError(reply.error.message)
            : Object.assign(new Error(reply.error.message), { name: reply.error.name }),
        );
    }
  };
  await Promise.all(Array.from({ length: threads }, lane));
}
