// Messages between the demo page and its embedding worker.
import type { Progress } from '../fetch.js';

export type ToWorker =
  | { type: 'load'; model: string | File; bpe?: string | File; vocab?: string | File; threads: number }
  | { type: 'embed'; id: string; image: Blob }
  | { type: 'texts'; id: string; texts: string[] };

export type FromWorker =
  | { type: 'progress'; progress: Progress }
  | { type: 'ready'; model: string; embedDim: number; logitScale: number }
  | { type: 'embedded'; id: string; vector: Float32Array }
  | { type: 'texts'; id: string; vectors: Float32Array[] }
  | { type: 'error'; id?: string; message: string };
