// `loadInWorker(nameOrPath)`: `load`, with the model in a worker thread of its own.
//
// onnxruntime-node runs a model synchronously on the thread that calls it: during encodeImage no
// timer fires and no message is read (measured), so an application that decodes the next images,
// hashes files or answers requests meanwhile stalls until the model is done. Here the model runs on
// its own thread, and this thread only posts the inputs (copied: the caller keeps its tensors) and
// receives the features: the model's calls become truly asynchronous. The preprocessing runs on
// this side (with the model's transform), so decoding overlaps the model.
import { existsSync, readdirSync } from 'node:fs';
import { setPriority } from 'node:os';
import { Worker } from 'node:worker_threads';
import * as errors from './errors.js';
import { InputError } from './errors.js';
import { imagePreprocessing, type LoadedClip, type LoadOptions } from './load.js';
import { findModelFiles } from './model-files.js';
import type { ClipModel } from './inference/clip-model.js';
import type { ThreadData, ThreadError, ThreadReady, ThreadReply, ThreadRequest } from './model-thread.js';
import type { ImageOutput } from './models/config.js';
import type { Tensor } from './tensor.js';

/** The model side of a worker-thread model: its towers, its config, and `release` to end the thread. */
export type WorkerModel = Pick<ClipModel, 'config' | 'logitScale' | 'encodeImage' | 'encodeText' | 'release'> & {
  /**
   * Gives the model's thread the cores first: every other thread of this process (this one, libuv's
   * pool, decoders) gets a lower scheduling priority (nice +10), and so do the threads they start
   * later; the threads the model starts itself keep its priority, so call this before the first
   * encode. For a process whose work is feeding this model (`clip index`): an unprivileged
   * process cannot raise a priority again. Linux only; elsewhere it does nothing.
   */
  favour(): void;
};

/** What `load` gives, but the tokenizer (load one with `tokenize` or `load` where text is needed). */
export type WorkerClip = Pick<LoadedClip, 'checkpoint' | 'transform' | 'preprocess' | 'preprocessBatch'> & {
  model: WorkerModel;
};

/**
 * The nice value favour() gives the threads beside the model's. Measured (`clip index`, ViT-B/32 on
 * one thread, 2 cores): at equal priority the decoders take the model's core in bursts, end to end
 * 10.2–11.1 images/s; at +10 11.2–14.0 (alternating runs).
 */
const LOWER_PRIORITY = 10;

/** The typed error a thread's error was (InputError, CheckpointError, …), with its message. */
function rebuild({ name, message }: ThreadError): Error {
  const error = new Error(message);
  const typed = (errors as Record<string, unknown>)[name];
  if (typeof typed === 'function' && typed.prototype instanceof Error) Object.setPrototypeOf(error, typed.prototype);
  error.name = name;
  return error;
}

/** Loads a model as `load(nameOrPath, options)` does, in a worker thread that then runs its towers. */
export async function loadInWorker(nameOrPath: string, options: LoadOptions = {}): Promise<WorkerClip> {
  // A model named is downloaded here, with this thread's progress bar (stderr is a terminal only
  // here) or callback and abort signal (neither crosses threads); the thread finds it in the cache.
  const { progress, signal, ...threadOptions } = options;
  if (!existsSync(nameOrPath)) await findModelFiles(nameOrPath, { ...threadOptions, progress, signal });
  const worker = new Worker(new URL('./model-thread.js', import.meta.url), {
    workerData: { nameOrPath, options: threadOptions } satisfies ThreadData,
  });
  const pending = new Map<number, { resolve: (t: Tensor | undefined) => void; reject: (e: Error) => void }>();
  let failure: Error | undefined;
  const fail = (error: Error) => {
    failure ??= error;
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };
  const loaded = await new Promise<Extract<ThreadReady, { ready: unknown }>['ready']>((resolve, reject) => {
    const onReady = (message: ThreadReady) => {
      worker.off('error', reject).off('exit', onExit);
      if ('failed' in message) reject(rebuild(message.failed));
      else resolve(message.ready);
    };
    const onExit = (code: number) => reject(new Error(`the model thread exited (code ${code}) while loading`));
    worker.once('message', onReady).once('error', reject).once('exit', onExit);
  }).catch(async (e: unknown) => {
    await worker.terminate();
    throw e;
  });

  worker.on('message', (reply: ThreadReply) => {
    const call = pending.get(reply.id);
    pending.delete(reply.id);
    if (pending.size === 0) worker.unref();
    if ('error' in reply) call?.reject(rebuild(reply.error));
    else call?.resolve(reply.tensor);
  });
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`the model thread exited (code ${code})`)));
  // The thread holds the process open only while a call is under way, as a model on this thread would.
  worker.unref();

  let nextId = 0;
  const call = (request: ThreadRequest) =>
    new Promise<Tensor | undefined>((resolve, reject) => {
      if (failure) return reject(failure);
      pending.set(request.id, { resolve, reject });
      worker.ref();
      worker.postMessage(request);
    });
  const features = async (request: ThreadRequest): Promise<Tensor> => {
    const tensor = await call(request);
    if (!tensor) throw new Error('the model thread replied without features');
    return tensor;
  };
  const model: WorkerModel = {
    config: loaded.config,
    logitScale: loaded.logitScale,
    encodeImage: (tensor: Tensor, { output = 'embedding' }: { output?: ImageOutput } = {}) =>
      features({ id: nextId++, tower: 'image', tensor, output }),
    encodeText: (tensor: Tensor<Int32Array>) => features({ id: nextId++, tower: 'text', tensor }),
    favour: () => {
      const { osThreadId } = loaded;
      if (osThreadId === undefined || !existsSync('/proc/self/task')) return;
      for (const task of readdirSync('/proc/self/task')) {
        if (Number(task) === osThreadId) continue;
        try {
          setPriority(Number(task), LOWER_PRIORITY);
        } catch {
          // a thread that has ended since the listing, or a system that refuses: nothing to do
        }
      }
    },
    release: async () => {
      if (failure) return;
      await call({ id: nextId++, release: true }); // the sessions freed, as ClipModel.release does
      failure = new InputError('this model was released');
      await worker.terminate();
    },
  };
  return { checkpoint: loaded.checkpoint, ...imagePreprocessing(loaded.transform), model };
}
