// Pillow 9.4's Image.resize(size, BICUBIC), bit for bit (libImaging/Resample.c and, for the
// modes Pillow resizes with NEAREST, Geometry.c's ImagingScaleAffine). Hand-written because
// CLIP features depend on exactly these integers and no library reproduces them.
//
// Every function takes a `window`: the part of the resized image to compute. Each output pixel
// depends only on its own row/column coefficients, so computing a window gives exactly those
// pixels of the full resize (a 6720×224 resize followed by a 224×224 crop costs a 224×224 one).
import { at } from '../checked.js';
import { bicubicSpan, precomputeCoefficients, type Coefficients } from './coefficients.js';
import type { Box } from './geometry.js';
import { channelCount, premultiply, unpremultiply, type Pixels } from './pixels.js';
import { horizontal8, vertical8 } from './resample8.js';

// Two arithmetics, as in Pillow: 8-bit images accumulate in int32 fixed point (resample8.ts,
// on a SIMD kernel: every photo goes through it); mode I accumulates float64 products with
// float64 weights and rounds half away from zero, without clipping (below).

/** Int32 accumulators: Pillow's ROUND_UP (half away from zero), no clipping. */
function roundUp(ss: number): number {
  return ss >= 0 ? Math.trunc(ss + 0.5) : Math.trunc(ss - 0.5);
}

type Samples = Uint8Array | Int32Array;

/**
 * One output sample of a mode I pass: output `o`'s taps over the samples src[start + t · step]
 * (step 1 along a row, the row width down a column), float64 sums in tap order, ROUND_UP.
 */
function tapSum(src: Int32Array, start: number, step: number, coeffs: Coefficients, o: number): number {
  const taps = at(coeffs.count, o);
  const w0 = o * coeffs.ksize;
  let ss = 0;
  // Hot loop (see checked.ts): the taps lie inside the source, as resizePil checks for the window.
  for (let t = 0; t < taps; t++) ss += (src[start + t * step] ?? 0) * (coeffs.weights[w0 + t] ?? 0);
  return roundUp(ss);
}

/** Horizontal pass of an int32 (mode I) image over `rows` rows from `row0`. */
function horizontalInt32(
  src: Int32Array,
  srcWidth: number,
  row0: number,
  rows: number,
  coeffs: Coefficients,
): Int32Array {
  const outWidth = coeffs.first.length;
  const out = new Int32Array(outWidth * rows);
  for (let y = 0; y < rows; y++) {
    const rowStart = (row0 + y) * srcWidth;
    coeffs.first.forEach((left, xx) => {
      out[y * outWidth + xx] = tapSum(src, rowStart + left, 1, coeffs, xx);
    });
  }
  return out;
}

/** Vertical pass of an int32 image whose first row is source row `row0`. */
function verticalInt32(src: Int32Array, width: number, row0: number, coeffs: Coefficients): Int32Array {
  const out = new Int32Array(coeffs.first.length * width);
  coeffs.first.forEach((top, yy) => {
    for (let x = 0; x < width; x++) out[yy * width + x] = tapSum(src, (top - row0) * width + x, width, coeffs, yy);
  });
  return out;
}

/** Copies `box` out of interleaved samples. */
function cropSamples(src: Samples, width: number, channels: number, box: Box): Samples {
  const out =
    src instanceof Int32Array
      ? new Int32Array(box.width * box.height * channels)
      : new Uint8Array(box.width * box.height * channels);
  const rowLength = box.width * channels;
  for (let y = 0; y < box.height; y++) {
    const s = ((box.top + y) * width + box.left) * channels;
    out.set(src.subarray(s, s + rowLength), y * rowLength);
  }
  return out;
}

/**
 * The samples being resized: `data` holds columns [left, left + width) and rows from `top` of
 * the full image (all of it unless the decoder kept only the part a window reads).
 */
interface Source {
  data: Samples;
  width: number;
  left: number;
  top: number;
}

/** Coefficients whose first taps count from `left` instead of 0. */
function fromColumn(coeffs: Coefficients, left: number): Coefficients {
  return left === 0 ? coeffs : { ...coeffs, first: coeffs.first.map((x) => x - left) };
}

/** ImagingResampleInner with BICUBIC: horizontal pass (only the rows needed), then vertical. */
function bicubic(
  src: Source,
  inW: number,
  inH: number,
  channels: number,
  outW: number,
  outH: number,
  window: Box,
): Samples {
  const vertical = outH !== inH ? precomputeCoefficients(inH, outH, window.top, window.height) : undefined;
  const { start: row0, end: rowEnd } = sourceSpan('bicubic', inH, outH, window.top, window.height);
  const rows = rowEnd - row0;
  const int32 = src.data instanceof Int32Array;

  let columns: Samples;
  if (outW !== inW) {
    const horizontal = fromColumn(precomputeCoefficients(inW, outW, window.left, window.width), src.left);
    columns = int32
      ? horizontalInt32(src.data as Int32Array, src.width, row0 - src.top, rows, horizontal)
      : horizontal8(src.data as Uint8Array, src.width, channels, row0 - src.top, rows, horizontal);
  } else {
    columns = cropSamples(src.data, src.width, channels, {
      left: window.left - src.left,
      top: row0 - src.top,
      width: window.width,
      height: rows,
    });
  }
  if (!vertical) return columns;
  return int32
    ? verticalInt32(columns as Int32Array, window.width, row0, vertical)
    : vertical8(columns as Uint8Array, window.width * channels, row0, vertical);
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

function nearest(
  src: Source,
  inW: number,
  inH: number,
  channels: number,
  outW: number,
  outH: number,
  window: Box,
): Samples {
  const xs = nearestTable(inW, outW, window.left, window.width);
  const ys = nearestTable(inH, outH, window.top, window.height);
  const data = src.data;
  const out =
    data instanceof Int32Array
      ? new Int32Array(window.width * window.height * channels)
      : new Uint8Array(window.width * window.height * channels);
  let o = 0;
  for (const sy of ys) {
    for (const sx of xs) {
      // Positions outside the source stay 0 (Pillow's fill); it cannot happen for a plain resize.
      if (sy < 0 || sx < 0) {
        o += channels;
        continue;
      }
      const s = ((sy - src.top) * src.width + sx - src.left) * channels;
      for (let c = 0; c < channels; c++) out[o++] = data[s + c] ?? 0; // inside the source (resizePil checks)
    }
  }
  return out;
}

type Method = 'copy' | 'nearest' | 'bicubic';

function methodFor(mode: Pixels['mode'], inW: number, inH: number, outW: number, outH: number): Method {
  if (outW === inW && outH === inH) return 'copy';
  return mode === 'P' || mode === '1' ? 'nearest' : 'bicubic';
}

/** The inputs [start, end) of one axis that outputs [first, first + length) read. */
function sourceSpan(
  method: Method,
  inSize: number,
  outSize: number,
  first: number,
  length: number,
): { start: number; end: number } {
  if (length === 0) return { start: first, end: first };
  if (method === 'copy' || inSize === outSize) return { start: first, end: first + length };
  if (method === 'bicubic') return bicubicSpan(inSize, outSize, first, length);
  const table = nearestTable(inSize, outSize, first, length);
  return { start: at(table, 0), end: at(table, length - 1) + 1 };
}

/**
 * The part of a `mode` image of inW × inH that `resizePil` reads to compute `window` of its
 * width × height resize: decoding only this part gives the same pixels.
 */
export function resizeSourceBox(
  mode: Pixels['mode'],
  inW: number,
  inH: number,
  width: number,
  height: number,
  window: Box,
): Box {
  const method = methodFor(mode, inW, inH, width, height);
  const columns = sourceSpan(method, inW, width, window.left, window.width);
  const rows = sourceSpan(method, inH, height, window.top, window.height);
  return { left: columns.start, top: rows.start, width: columns.end - columns.start, height: rows.end - rows.start };
}

/**
 * `img.resize((width, height), Image.BICUBIC)` as Pillow 9.4 does it, restricted to `window`
 * (default: the whole output): a copy when the size is unchanged; NEAREST for P and 1;
 * premultiplied alpha for RGBA and LA; float64 weights without clipping for I; otherwise
 * 8-bit fixed point in the image's own mode (CMYK on its four channels). An image with an
 * `origin` is the part of a `sourceSize` image that holds resizeSourceBox(...) of it.
 */
export function resizePil(
  img: Pixels,
  width: number,
  height: number,
  window: Box = { left: 0, top: 0, width, height },
): Pixels {
  if (window.left < 0 || window.top < 0 || window.left + window.width > width || window.top + window.height > height) {
    throw new RangeError(`resize window ${JSON.stringify(window)} is outside the ${width}×${height} output`);
  }
  if (img.origin && !img.sourceSize) throw new RangeError('an image with an origin must give its sourceSize');
  const { width: inW, height: inH } = (img.origin && img.sourceSize) || img;
  const src: Source = { data: img.data, width: img.width, ...(img.origin ?? { left: 0, top: 0 }) };
  const method = methodFor(img.mode, inW, inH, width, height);
  const needed = resizeSourceBox(img.mode, inW, inH, width, height, window);
  if (
    needed.left < src.left ||
    needed.top < src.top ||
    needed.left + needed.width > src.left + img.width ||
    needed.top + needed.height > src.top + img.height
  ) {
    throw new RangeError(
      `resize reads ${JSON.stringify(needed)} of the ${inW}×${inH} image, outside the decoded part at ` +
        `${src.left},${src.top} of ${img.width}×${img.height}`,
    );
  }
  const channels = channelCount(img.mode);
  const out = (data: Samples): Pixels => ({ mode: img.mode, width: window.width, height: window.height, data });
  if (method === 'copy')
    return out(
      cropSamples(img.data, img.width, channels, {
        ...window,
        left: window.left - src.left,
        top: window.top - src.top,
      }),
    );
  if (method === 'nearest') return out(nearest(src, inW, inH, channels, width, height, window));
  if (img.mode === 'RGBA' || img.mode === 'LA') {
    const premultiplied = premultiply(img.data as Uint8Array, channels as 2 | 4);
    const resized = bicubic({ ...src, data: premultiplied }, inW, inH, channels, width, height, window);
    return out(unpremultiply(resized as Uint8Array, channels as 2 | 4));
  }
  return out(bicubic(src, inW, inH, channels, width, height, window));
}
