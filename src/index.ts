// CLIP for TypeScript: the public API. See README.md.

export { load, type LoadedClip, type LoadOptions, type Preprocess } from './load.js';
export { loadInWorker, type WorkerClip, type WorkerModel } from './load-in-worker.js';
export {
  embedImages,
  expandImagePaths,
  isImageName,
  type EmbedBatch,
  type ImageEmbedder,
  type ImageEmbedding,
} from './embed.js';
export { CLIP } from './inference/clip.js';
export { clipLogits, normalizeRows, type ClipLogits } from './inference/logits.js';
export {
  imageOutputWidth,
  inferConfigFromStateDict,
  type ClipConfig,
  type ConfigOverrides,
  type ImageOutput,
} from './models/config.js';
export { readConfigFile } from './models/config-file.js';
export { OFFICIAL_CONFIGS } from './models/presets.js';
export { randomStateDict } from './models/random.js';
export { availableChineseClipModels, availableModels } from './zoo/models.js';
export { zeroShotClassifier, type ZeroShotClassifier, type Prediction } from './zeroshot/classifier.js';
export { DEFAULT_TEMPLATES, SINGLE_TEMPLATE } from './zeroshot/templates.js';
export { downloadModel } from './zoo/fetch.js';
export { cacheDir } from './zoo/cache.js';
export { Tokenizer, WordPieceTokenizer, type TextTokenizer } from './text/index.js';
export { tokenize, defaultTokenizer } from './zoo/tokenizer.js';
export { fixText } from './text/ftfy/index.js';
export { preprocess, preprocessBatch, CLIP_MEAN, CLIP_STD, type ImageInput } from './image/index.js';
export { readCheckpoint } from './weights/index.js';
export { toCanonical } from './weights/keymap/index.js';
export { readSafetensors, writeSafetensors } from './weights/safetensors.js';
export * from './errors.js';
export { toFloat16, toFloat32, type Tensor, type RawTensor, type StateDict, type DType } from './tensor.js';
export type { Device, RuntimeOptions } from './runtime/session.js';
