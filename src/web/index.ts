// clip-ts in the browser (`clip-ts/web`, dist/web/clip.bundle.js): the same checkpoints, tokenizer,
// preprocessing and ONNX graphs as Node, run by onnxruntime-web (WebAssembly or WebGPU).
export { load, type WebClip, type WebImage, type WebLoadOptions, type FileSource } from './load.js';
export type { Progress } from './fetch.js';
export type { WebExecutionProvider } from '../runtime/web.js';
export { ClipModel } from '../inference/clip-model.js';
export { clipLogits, normalizeRows, type ClipLogits } from '../inference/logits.js';
export type { Tensor } from '../tensor.js';
export { CheckpointError, ConfigError, DownloadError, InputError, UnsafePickleError } from '../errors.js';
