// Image decoding and CLIP preprocessing, bit-exact with the Python reference
// (PIL.Image.open → torchvision Resize/CenterCrop → convert('RGB') → ToTensor → Normalize).
export { preprocess, preprocessInto, FAST_JPEG_MARGIN, type PreprocessOptions } from './preprocess.js';
export { preprocessBatch, type BatchOptions, type BatchFailure, type BatchResult } from './batch.js';
export {
  decodeImage,
  describeInput,
  DEFAULT_MAX_PIXELS,
  type DecodeOptions,
  type ImageInput,
  type RawImage,
} from './decode.js';
export {
  transformPixels,
  transformInto,
  transformToRGB,
  transformSourceBox,
  resizePlan,
  type ResizeMode,
  type ResizePlan,
  type TransformOptions,
} from './transform.js';
export { resizePil, resizeSourceBox } from './resample.js';
export { toRGB, type PilMode, type Pixels } from './pixels.js';
export { shortestSideSize, centerCropBox, roundHalfEven, type Box } from './geometry.js';
export { CLIP_MEAN, CLIP_STD } from './normalize.js';
export { applyOrientation } from './orientation.js';
