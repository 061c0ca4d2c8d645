// Decoded pixels in the mode Pillow would have opened them in, and Pillow's conversions
// between modes (libImaging/Convert.c). The reference resizes in the image's own mode and
// converts to RGB afterwards, so the mode decides the result bit for bit.

import { assertLength } from '../checked.js';

/**
 * Pillow modes we reproduce. 'P' is stored already expanded to RGB through its palette
 * (what `convert('RGB')` would give); it only matters that Pillow resizes it with NEAREST.
 * '1' (1-bit) is stored as 0/255 bytes, also resized with NEAREST. 'I' holds int32 values
 * (16-bit greyscale PNGs), every other mode one byte per channel.
 */
export type PilMode = '1' | 'L' | 'LA' | 'P' | 'RGB' | 'RGBA' | 'CMYK' | 'I';

/** Interleaved (HWC) pixels with Pillow's mode. */
export interface Pixels {
  readonly mode: PilMode;
  readonly width: number;
  readonly height: number;
  /** Int32Array for mode 'I', Uint8Array otherwise; `width * height * channelCount(mode)` values. */
  readonly data: Uint8Array | Int32Array;
  /**
   * The file's own size when the decoder returned less than all of it: the resize and crop
   * sizes are computed from this. Without `origin`, the decoder shrank the image (fast path)
   * and the reduced image lands on the same output grid.
   */
  readonly sourceSize?: { readonly width: number; readonly height: number };
  /**
   * With `sourceSize`: the decoder kept only the part of the full-scale image the transform
   * reads (exact path, see resizeSourceBox), and this is where that part starts.
   */
  readonly origin?: { readonly left: number; readonly top: number };
}

const CHANNELS: Record<PilMode, number> = { '1': 1, L: 1, LA: 2, P: 3, RGB: 3, RGBA: 4, CMYK: 4, I: 1 };

export function channelCount(mode: PilMode): number {
  return CHANNELS[mode];
}

/** Pillow's MULDIV255: round(a * b / 255) in integers. */
export function mulDiv255(a: number, b: number): number {
  const t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

/** `convert('RGB')` for every mode: HWC uint8 RGB. Alpha is dropped, never composited. */
export function toRGB(img: Pixels): Uint8Array {
  const n = img.width * img.height;
  const src = img.data;
  assertLength(src, n * channelCount(img.mode), 'the pixel data');
  const out = new Uint8Array(n * 3);
  switch (img.mode) {
    case 'RGB':
    case 'P':
      out.set(src as Uint8Array);
      break;
    case '1':
    case 'L':
      for (let i = 0; i < n; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = src[i] ?? 0;
      break;
    case 'LA':
      for (let i = 0; i < n; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = src[2 * i] ?? 0;
      break;
    case 'RGBA':
      for (let i = 0; i < n; i++) {
        out[3 * i] = src[4 * i] ?? 0;
        out[3 * i + 1] = src[4 * i + 1] ?? 0;
        out[3 * i + 2] = src[4 * i + 2] ?? 0;
      }
      break;
    case 'I':
      // Clipped, not scaled: a 16-bit value of 1000 becomes 255.
      for (let i = 0; i < n; i++) {
        const v = src[i] ?? 0;
        out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = v <= 0 ? 0 : v >= 255 ? 255 : v;
      }
      break;
    case 'CMYK':
      for (let i = 0; i < n; i++) {
        const nk = 255 - (src[4 * i + 3] ?? 0);
        for (let c = 0; c < 3; c++) out[3 * i + c] = Math.max(0, nk - mulDiv255(src[4 * i + c] ?? 0, nk));
      }
      break;
  }
  return out;
}

/** RGBA → RGBa / LA → La (Pillow premultiplies before resampling images with alpha). */
export function premultiply(data: Uint8Array, channels: 2 | 4): Uint8Array {
  if (data.length % channels !== 0)
    throw new RangeError(`${data.length} samples are not whole ${channels}-channel pixels`);
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i += channels) {
    const alpha = data[i + channels - 1] ?? 0;
    for (let c = 0; c < channels - 1; c++) out[i + c] = mulDiv255(data[i + c] ?? 0, alpha);
    out[i + channels - 1] = alpha;
  }
  return out;
}

/** RGBa → RGBA / La → LA: integer division, kept as is where alpha is 0 or 255. */
export function unpremultiply(data: Uint8Array, channels: 2 | 4): Uint8Array {
  if (data.length % channels !== 0)
    throw new RangeError(`${data.length} samples are not whole ${channels}-channel pixels`);
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i += channels) {
    const alpha = data[i + channels - 1] ?? 0;
    for (let c = 0; c < channels - 1; c++) {
      const v = data[i + c] ?? 0;
      out[i + c] = alpha === 0 || alpha === 255 ? v : Math.min(255, Math.floor((255 * v) / alpha));
    }
    out[i + channels - 1] = alpha;
  }
  return out;
}
