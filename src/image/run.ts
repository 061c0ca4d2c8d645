// preprocess(): one input (path, encoded bytes or raw pixels) → CLIP's float32 [3, n, n].
import type { Tensor } from '../tensor.js';
import { decodeImage, type DecodeOptions, type ImageInput } from './decode.js';
import { transformInto, type TransformOptions } from './preprocess.js';

export interface PreprocessOptions extends TransformOptions, Omit<DecodeOptions, 'jpegShrinkTo'> {
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
  };
}

/** Decodes and preprocesses one image exactly as the reference transform does. */
export async function preprocess(input: ImageInput, options: PreprocessOptions): Promise<Tensor> {
  const out = new Float32Array(3 * options.size * options.size);
  await preprocessInto(input, options, out, 0);
  return { data: out, shape: [3, options.size, options.size] };
}

/** Same, written into `out` at `offset` (a row of a batch). */
export async function preprocessInto(input: ImageInput, options: PreprocessOptions, out: Float32Array, offset: number): Promise<void> {
  checkSize(options.size);
  const pixels = await decodeImage(input, decodeOptions(options));
  transformInto(pixels, options, out, offset);
}

function checkSize(size: number): void {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`preprocess size must be a positive integer, got ${size}`);
}
