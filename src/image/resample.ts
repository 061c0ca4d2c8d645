// Pillow 9.4's Image.resize(size, BICUBIC), bit for bit (libImaging/Resample.c and, for the
// modes Pillow resizes with NEAREST, Geometry.c's ImagingScaleAffine). Hand-written because
// CLIP features depend on exactly these integers and no library reproduces them.
//
// Every function takes a `window`: the part of the resized image to compute. Each output pixel
// depends only on its own row/column coefficients, so computing a window gives exactly those
// pixels of the full resize (a 6720×224 resize followed by a 224×224 crop costs a 224×224 one).
import { type Box } from './geometry.js';
import { channelCount, premultiply, unpremultiply, type Pixels } from './pixels.js';

/** 8-bit resampling uses 22 fractional bits (32 - 8 - 2: room for 8-bit values and overshoot). */
export const PRECISION_BITS = 22;
const HALF = 1 << (PRECISION_BITS - 1);

/** Keys' cubic convolution kernel with a = -0.5 (Pillow's BICUBIC), written as Pillow does. */
export function bicubicKernel(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}
const BICUBIC_SUPPORT = 2;

/** Per output index: first input index, tap count, and `ksize` normalised weights. */
export interface Coefficients {
  first: Int32Array;
  count: Int32Array;
  ksize: number;
  weights: Float64Array;
}

/**
 * Pillow's precompute_coeffs for outputs [start, start + length) of an inSize → outSize axis:
 * when shrinking, the kernel is stretched by the scale (antialiasing); weights sum to 1.
 */
export function precomputeCoefficients(inSize: number, outSize: number, start = 0, length = outSize - start): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = BICUBIC_SUPPORT * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const invScale = 1 / filterScale;
  const first = new Int32Array(length);
  const count = new Int32Array(length);
  const weights = new Float64Array(length * ksize);
  for (let i = 0; i < length; i++) {
    const center = (start + i + 0.5) * scale;
    // C's (int) cast truncates toward zero.
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let sum = 0;
    for (let x = 0; x < xmax; x++) {
      const w = bicubicKernel((x + xmin - center + 0.5) * invScale);
      weights[i * ksize + x] = w;
      sum += w;
    }
    if (sum !== 0) for (let x = 0; x < xmax; x++) weights[i * ksize + x] /= sum;
    first[i] = xmin;
    count[i] = xmax;
  }
  return { first, count, ksize, weights };
}

/** normalize_coeffs_8bpc: weights as 22-bit fixed point, rounded half away from zero. */
export function fixedPointWeights(weights: Float64Array): Int32Array {
  const out = new Int32Array(weights.length);
  const one = 1 << PRECISION_BITS;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i]!;
    out[i] = w < 0 ? Math.trunc(-0.5 + w * one) : Math.trunc(0.5 + w * one);
  }
  return out;
}

/** 8-bit accumulators: drop the fraction (arithmetic shift) and clip to 0..255. */
function clip8(ss: number): number {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Int32 accumulators: Pillow's ROUND_UP (half away from zero), no clipping. */
function roundUp(ss: number): number {
  return ss >= 0 ? Math.trunc(ss + 0.5) : Math.trunc(ss - 0.5);
}

type Samples = Uint8Array | Int32Array;

// Two arithmetics, as in Pillow: 8-bit images accumulate in int32 fixed point (exact integer
// sums, `| 0` keeps V8 on its fast integer path); mode I accumulates float64 products with
// float64 weights and rounds half away from zero, without clipping. The 8-bit passes are the
// hot loops (every photo), so they are written per channel count.

/** Horizontal pass of an 8-bit image over `rows` source rows from `row0`. */
function horizontal8(src: Uint8Array, srcWidth: number, channels: number, row0: number, rows: number, coeffs: Coefficients): Uint8Array {
  const outWidth = coeffs.first.length;
  const out = new Uint8Array(outWidth * rows * channels);
  const k = fixedPointWeights(coeffs.weights);
  const { first, count, ksize } = coeffs;
  let o = 0;
  for (let y = 0; y < rows; y++) {
    const rowStart = (row0 + y) * srcWidth * channels;
    for (let xx = 0; xx < outWidth; xx++) {
      const n = count[xx]!;
      const kb = xx * ksize;
      let p = rowStart + first[xx]! * channels;
      if (channels === 3) {
        let s0 = HALF, s1 = HALF, s2 = HALF;
        for (let x = 0; x < n; x++, p += 3) {
          const w = k[kb + x]!;
          s0 = (s0 + src[p]! * w) | 0;
          s1 = (s1 + src[p + 1]! * w) | 0;
          s2 = (s2 + src[p + 2]! * w) | 0;
        }
        out[o] = clip8(s0); out[o + 1] = clip8(s1); out[o + 2] = clip8(s2);
        o += 3;
      } else if (channels === 4) {
        let s0 = HALF, s1 = HALF, s2 = HALF, s3 = HALF;
        for (let x = 0; x < n; x++, p += 4) {
          const w = k[kb + x]!;
          s0 = (s0 + src[p]! * w) | 0;
          s1 = (s1 + src[p + 1]! * w) | 0;
          s2 = (s2 + src[p + 2]! * w) | 0;
          s3 = (s3 + src[p + 3]! * w) | 0;
        }
        out[o] = clip8(s0); out[o + 1] = clip8(s1); out[o + 2] = clip8(s2); out[o + 3] = clip8(s3);
        o += 4;
      } else {
        for (let c = 0; c < channels; c++) {
          let ss = HALF;
          for (let x = 0, q = p + c; x < n; x++, q += channels) ss = (ss + src[q]! * k[kb + x]!) | 0;
          out[o++] = clip8(ss);
        }
      }
    }
  }
  return out;
}

/** Vertical pass of an 8-bit image; source rows are relative to `row0`. */
function vertical8(src: Uint8Array, rowLength: number, row0: number, coeffs: Coefficients): Uint8Array {
  const outRows = coeffs.first.length;
  const out = new Uint8Array(outRows * rowLength);
  const k = fixedPointWeights(coeffs.weights);
  const acc = new Int32Array(rowLength);
  for (let yy = 0; yy < outRows; yy++) {
    acc.fill(HALF);
    const n = coeffs.count[yy]!;
    const kb = yy * coeffs.ksize;
    // Row by row in tap order: integer sums, so the order does not change the result.
    for (let y = 0; y < n; y++) {
      const w = k[kb + y]!;
      const p = (coeffs.first[yy]! - row0 + y) * rowLength;
      for (let i = 0; i < rowLength; i++) acc[i] = (acc[i]! + src[p + i]! * w) | 0;
    }
    const o = yy * rowLength;
    for (let i = 0; i < rowLength; i++) out[o + i] = clip8(acc[i]!);
  }
  return out;
}

/** Horizontal pass of an int32 (mode I) image: float64 sums in tap order, ROUND_UP. */
function horizontalInt32(src: Int32Array, srcWidth: number, row0: number, rows: number, coeffs: Coefficients): Int32Array {
  const outWidth = coeffs.first.length;
  const out = new Int32Array(outWidth * rows);
  const { first, count, ksize, weights } = coeffs;
  for (let y = 0; y < rows; y++) {
    const rowStart = (row0 + y) * srcWidth;
    for (let xx = 0; xx < outWidth; xx++) {
      let ss = 0;
      for (let x = 0; x < count[xx]!; x++) ss += src[rowStart + first[xx]! + x]! * weights[xx * ksize + x]!;
      out[y * outWidth + xx] = roundUp(ss);
    }
  }
  return out;
}

/** Vertical pass of an int32 image: per pixel, float64 sums in tap order as Pillow adds them. */
function verticalInt32(src: Int32Array, width: number, row0: number, coeffs: Coefficients): Int32Array {
  const outRows = coeffs.first.length;
  const out = new Int32Array(outRows * width);
  const { first, count, ksize, weights } = coeffs;
  for (let yy = 0; yy < outRows; yy++) {
    for (let x = 0; x < width; x++) {
      let ss = 0;
      for (let y = 0; y < count[yy]!; y++) ss += src[(first[yy]! - row0 + y) * width + x]! * weights[yy * ksize + y]!;
      out[yy * width + x] = roundUp(ss);
    }
  }
  return out;
}

/** Copies `box` out of interleaved samples. */
function cropSamples(src: Samples, width: number, channels: number, box: Box): Samples {
  const out = src instanceof Int32Array ? new Int32Array(box.width * box.height * channels) : new Uint8Array(box.width * box.height * channels);
  const rowLength = box.width * channels;
  for (let y = 0; y < box.height; y++) {
    const s = ((box.top + y) * width + box.left) * channels;
    out.set(src.subarray(s, s + rowLength), y * rowLength);
  }
  return out;
}

/** ImagingResampleInner with BICUBIC: horizontal pass (only the rows needed), then vertical. */
function bicubic(src: Samples, inW: number, inH: number, channels: number, outW: number, outH: number, window: Box): Samples {
  const vertical = outH !== inH ? precomputeCoefficients(inH, outH, window.top, window.height) : undefined;
  const last = window.height - 1;
  const row0 = vertical ? vertical.first[0]! : window.top;
  const rowEnd = vertical ? vertical.first[last]! + vertical.count[last]! : window.top + window.height;
  const rows = window.height === 0 ? 0 : rowEnd - row0;
  const int32 = src instanceof Int32Array;

  let columns: Samples;
  if (outW !== inW) {
    const horizontal = precomputeCoefficients(inW, outW, window.left, window.width);
    columns = int32 ? horizontalInt32(src, inW, row0, rows, horizontal) : horizontal8(src, inW, channels, row0, rows, horizontal);
  } else {
    columns = cropSamples(src, inW, channels, { left: window.left, top: row0, width: window.width, height: rows });
  }
  if (!vertical) return columns;
  return int32 ? verticalInt32(columns as Int32Array, window.width, row0, vertical) : vertical8(columns as Uint8Array, window.width * channels, row0, vertical);
}

/**
 * ImagingScaleAffine (NEAREST, used by Pillow for modes P and 1): the source position is
 * accumulated in float64 step by step (`xo += scale`), not multiplied, so we do the same.
 */
function nearestTable(inSize: number, outSize: number, start: number, length: number): Int32Array {
  const step = inSize / outSize;
  const table = new Int32Array(length);
  let pos = step * 0.5;
  for (let i = 0; i < start + length; i++) {
    const index = pos < 0 ? -1 : Math.trunc(pos);
    if (i >= start) table[i - start] = index >= 0 && index < inSize ? index : -1;
    pos += step;
  }
  return table;
}

function nearest(src: Samples, inW: number, inH: number, channels: number, outW: number, outH: number, window: Box): Samples {
  const xs = nearestTable(inW, outW, window.left, window.width);
  const ys = nearestTable(inH, outH, window.top, window.height);
  const out = src instanceof Int32Array ? new Int32Array(window.width * window.height * channels) : new Uint8Array(window.width * window.height * channels);
  let o = 0;
  for (let y = 0; y < window.height; y++) {
    for (let x = 0; x < window.width; x++) {
      // Positions outside the source stay 0 (Pillow's fill); it cannot happen for a plain resize.
      if (ys[y]! < 0 || xs[x]! < 0) { o += channels; continue; }
      const s = (ys[y]! * inW + xs[x]!) * channels;
      for (let c = 0; c < channels; c++) out[o++] = src[s + c]!;
    }
  }
  return out;
}

/**
 * `img.resize((width, height), Image.BICUBIC)` as Pillow 9.4 does it, restricted to `window`
 * (default: the whole output): a copy when the size is unchanged; NEAREST for P and 1;
 * premultiplied alpha for RGBA and LA; float64 weights without clipping for I; otherwise
 * 8-bit fixed point in the image's own mode (CMYK on its four channels).
 */
export function resizePil(img: Pixels, width: number, height: number, window: Box = { left: 0, top: 0, width, height }): Pixels {
  if (window.left < 0 || window.top < 0 || window.left + window.width > width || window.top + window.height > height) {
    throw new RangeError(`resize window ${JSON.stringify(window)} is outside the ${width}×${height} output`);
  }
  const channels = channelCount(img.mode);
  const out = (data: Samples): Pixels => ({ mode: img.mode, width: window.width, height: window.height, data });
  if (width === img.width && height === img.height) return out(cropSamples(img.data, img.width, channels, window));
  if (img.mode === 'P' || img.mode === '1') return out(nearest(img.data, img.width, img.height, channels, width, height, window));
  if (img.mode === 'RGBA' || img.mode === 'LA') {
    const premultiplied = premultiply(img.data as Uint8Array, channels as 2 | 4);
    const resized = bicubic(premultiplied, img.width, img.height, channels, width, height, window);
    return out(unpremultiply(resized as Uint8Array, channels as 2 | 4));
  }
  return out(bicubic(img.data, img.width, img.height, channels, width, height, window));
}
