// Task of preprocessBatch's worker pool (piscina): preprocesses one input and returns the float32
// result (moved, not copied), or the error's name and message (a thrown error would lose its name).
import { Piscina } from 'piscina';
import type { ImageInput } from './decode.js';
import { preprocess, type PreprocessOptions } from './preprocess.js';

export interface WorkerRequest {
  input: ImageInput;
  options: PreprocessOptions;
}
export type WorkerReply = Float32Array | { error: { name: string; message: string } };

export default async function preprocessTask({ input, options }: WorkerRequest): Promise<WorkerReply> {
  try {
    const { data } = await preprocess(input, options);
    return Piscina.move(data) as Float32Array;
  } catch (e) {
    const error = e instanceof Error ? { name: e.name, message: e.message } : { name: 'Error', message: String(e) };
    return { error };
  }
}
