// preprocess(): one input (path, encoded bytes or raw pixels) → CLIP's float32 [3, n, n].
import type { Tensor } from '../tensor.js';
import { decodeImage, type DecodeOptions, type ImageInput } from './decode.js';
import type { Pixels } from './pixels.js';
import { transformInto, transformSourceBox, type TransformOptions } from './transform.js';

export interface PreprocessOptions extends TransformOptions, Omit<DecodeOptions, 'jpegShrinkTo' | 'region'> {
  /**
   * Fast path for large JPEGs, NOT bit-exact with the reference: sharp reduces the image while
   * decoding (libjpeg DCT scaling + lanczos3) to a short side of FAST_JPEG_MARGIN × size, then
   * the exact resize runs on that. Off by default.
   */
  fastJpeg?: boolean;
}

/** The fast path keeps at least this many source pixels per output pixel along the short side. */
export const FAST_JPEG_MARGIN = 2;

function decodeOptions(options: PreprocessOptions): DecodeOptions {
  return {
    maxPixels: options.maxPixels,
    applyExifOrientation: options.applyExifOrientation,
    jpegShrinkTo: options.fastJpeg ? FAST_JPEG_MARGIN * options.size : undefined,
    // Only what the resize reads is decoded: the crop drops the rest (a third of a 3:2 photo).
    region: (mode, width, height) => transformSourceBox(mode, width, height, options.size, options.resizeMode),
  };
}

/** Decodes and preprocesses one image exactly as the reference transform does. */
export async function preprocess(input: ImageInput, options: PreprocessOptions): Promise<Tensor> {
  const out = new Float32Array(3 * options.size * options.size);
  await preprocessInto(input, options, out, 0);
  return { data: out, shape: [3, options.size, options.size] };
}

/** Same, written into `out` at `offset` (a row of a batch). */
export async function preprocessInto(
  input: ImageInput,
  options: PreprocessOptions,
  out: Float32Array,
  offset: number,
): Promise<void> {
  transformInto(await decodeForTransform(input, options), options, out, offset);
}

/** The decoding step of preprocess: what transformInto needs of the input, and no more. */
export async function decodeForTransform(input: ImageInput, options: PreprocessOptions): Promise<Pixels> {
  checkSize(options.size);
  return decodeImage(input, decodeOptions(options));
}

function checkSize(size: number): void {
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`preprocess size must be a positive integer, got ${size}`);
}
