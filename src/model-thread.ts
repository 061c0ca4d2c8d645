// The worker thread behind loadInWorker (load-in-worker.ts): loads the model with `load` and runs
// its towers on request, one call at a time, replying with the features (moved, not copied).
import { readlinkSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import type { ImageTransform } from './model-files.js';
import type { ClipConfig, ImageOutput } from './models/config.js';
import { load, type LoadOptions } from './load.js';
import type { Tensor } from './tensor.js';

export interface ThreadData {
  nameOrPath: string;
  options: LoadOptions;
}

/** What the thread says once the model is loaded, or why it could not be. */
export type ThreadReady =
  | {
      ready: {
        checkpoint: string;
        transform: ImageTransform;
        config: ClipConfig;
        logitScale: number;
        /** This thread's id in the operating system, where Linux's /proc says it. */
        osThreadId?: number;
      };
    }
  | { failed: ThreadError };

export type ThreadRequest =
  | { id: number; tower: 'image'; tensor: Tensor; output: ImageOutput }
  | { id: number; tower: 'text'; tensor: Tensor<Int32Array> }
  | { id: number; release: true };

export type ThreadReply = { id: number; tensor?: Tensor } | { id: number; error: ThreadError };

/** An error as it crosses threads: its class name (to rebuild the typed error) and message. */
export interface ThreadError {
  name: string;
  message: string;
}

const asThreadError = (e: unknown): ThreadError =>
  e instanceof Error ? { name: e.name, message: e.message } : { name: 'Error', message: String(e) };

/** The calling thread's Linux thread id (/proc/thread-self links to `<pid>/task/<tid>`), or undefined. */
function osThreadId(): number | undefined {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').at(-1));
    return Number.isInteger(tid) ? tid : undefined;
  } catch {
    return undefined;
  }
}

const port = parentPort;
if (!port) throw new Error('model-thread.js runs as a worker thread (see loadInWorker)');
const { nameOrPath, options } = workerData as ThreadData;

try {
  const { model, checkpoint, transform } = await load(nameOrPath, options);
  port.postMessage({
    ready: { checkpoint, transform, config: model.config, logitScale: model.logitScale, osThreadId: osThreadId() },
  } satisfies ThreadReady);
  // Requests are run in arrival order: a run keeps this thread busy anyway, and its answer comes
  // before the next request is read.
  port.on('message', async (request: ThreadRequest) => {
    try {
      if ('release' in request) {
        await model.release();
        port.postMessage({ id: request.id } satisfies ThreadReply);
        return;
      }
      const tensor =
        request.tower === 'image'
          ? await model.encodeImage(request.tensor, { output: request.output })
          : await model.encodeText(request.tensor);
      port.postMessage({ id: request.id, tensor } satisfies ThreadReply, [tensor.data.buffer as ArrayBuffer]);
    } catch (e) {
      port.postMessage({ id: request.id, error: asThreadError(e) } satisfies ThreadReply);
    }
  });
} catch (e) {
  port.postMessage({ failed: asThreadError(e) } satisfies ThreadReady);
}
