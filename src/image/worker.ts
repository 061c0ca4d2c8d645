// Worker thread of preprocessBatch: preprocesses one input per message and sends the
// float32 result back (transferred, not copied), or the error's name and message.
import { parentPort } from 'node:worker_threads';
import type { ImageInput } from './decode.js';
import { preprocess, type PreprocessOptions } from './run.js';

export interface WorkerRequest { id: number; input: ImageInput; options: PreprocessOptions }
export type WorkerReply =
  | { id: number; data: Float32Array }
  | { id: number; error: { name: string; message: string } };

parentPort?.on('message', async ({ id, input, options }: WorkerRequest) => {
  try {
    const { data } = await preprocess(input, options);
    parentPort!.postMessage({ id, data } satisfies WorkerReply, [data.buffer as ArrayBuffer]);
  } catch (e) {
    const error = e instanceof Error ? { name: e.name, message: e.message } : { name: 'Error', message: String(e) };
    parentPort!.postMessage({ id, error } satisfies WorkerReply);
  }
});
