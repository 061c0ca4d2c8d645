// Pillow 9.4's bicubic resampling coefficients (libImaging/Resample.c: precompute_coeffs and
// normalize_coeffs_8bpc): which input pixels each output pixel reads, and with what weights.

import { at } from '../checked.js';

/** 8-bit resampling uses 22 fractional bits (32 - 8 - 2: room for 8-bit values and overshoot). */
export const PRECISION_BITS = 22;

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
 * precompute_coeffs' geometry of an inSize → outSize axis: when shrinking, the kernel is stretched by the scale
 * (antialiasing).
 */
function axisGeometry(inSize: number, outSize: number) {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = BICUBIC_SUPPORT * filterScale;
  return { scale, filterScale, support, ksize: Math.ceil(support) * 2 + 1 };
}

/** Inputs [xmin, xmin + count) of output i; C's (int) cast truncates toward zero. */
function taps(
  i: number,
  inSize: number,
  scale: number,
  support: number,
): { center: number; xmin: number; count: number } {
  const center = (i + 0.5) * scale;
  const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
  const count = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
  return { center, xmin, count };
}

/**
 * Pillow's precompute_coeffs for outputs [start, start + length) of an inSize → outSize axis;
 * weights sum to 1.
 */
export function precomputeCoefficients(
  inSize: number,
  outSize: number,
  start = 0,
  length = outSize - start,
): Coefficients {
  const { scale, filterScale, support, ksize } = axisGeometry(inSize, outSize);
  const invScale = 1 / filterScale;
  const first = new Int32Array(length);
  const count = new Int32Array(length);
  const weights = new Float64Array(length * ksize);
  for (let i = 0; i < length; i++) {
    const { center, xmin, count: xmax } = taps(start + i, inSize, scale, support);
    let sum = 0;
    for (let x = 0; x < xmax; x++) {
      const w = bicubicKernel((x + xmin - center + 0.5) * invScale);
      weights[i * ksize + x] = w;
      sum += w;
    }
    if (sum !== 0) for (let x = 0; x < xmax; x++) weights[i * ksize + x] = at(weights, i * ksize + x) / sum;
    first[i] = xmin;
    count[i] = xmax;
  }
  return { first, count, ksize, weights };
}

/** The inputs [start, end) that outputs [first, first + length) read (length ≥ 1; taps only move forward). */
export function bicubicSpan(
  inSize: number,
  outSize: number,
  first: number,
  length: number,
): { start: number; end: number } {
  const { scale, support } = axisGeometry(inSize, outSize);
  const last = taps(first + length - 1, inSize, scale, support);
  return { start: taps(first, inSize, scale, support).xmin, end: last.xmin + last.count };
}

/** normalize_coeffs_8bpc: weights as 22-bit fixed point, rounded half away from zero. */
export function fixedPointWeights(weights: Float64Array): Int32Array {
  const out = new Int32Array(weights.length);
  const one = 1 << PRECISION_BITS;
  for (let i = 0; i < weights.length; i++) {
    const w = at(weights, i);
    out[i] = w < 0 ? Math.trunc(-0.5 + w * one) : Math.trunc(0.5 + w * one);
  }
  return out;
}
