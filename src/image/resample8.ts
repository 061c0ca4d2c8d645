// The 8-bit passes of Pillow's bicubic resize on the WebAssembly SIMD kernel (kernels/resample8.wat),
// bit for bit. Pixels are copied into the kernel's memory (the source in bands of rows, so the
// memory stays small and the band in cache), the result is copied out. One kernel instance per
// thread, made on first use; its memory grows as needed and is kept for the next image.
import { at } from '../checked.js';
import { fixedPointWeights, type Coefficients } from './coefficients.js';
import { instantiateKernel, type KernelMemory } from '../wasm/instantiate.js';
import { RESAMPLE8_WASM_BASE64 } from './kernels/resample8-wasm.js';

interface Kernel {
  memory: KernelMemory;
  horizontal(
    src: number,
    rowBytes: number,
    rows: number,
    channels: number,
    outWidth: number,
    offsets: number,
    counts: number,
    weights: number,
    weightStride: number,
    masks: number,
    out: number,
    outPitch: number,
  ): void;
  vertical(
    src: number,
    rowBytes: number,
    outRows: number,
    offsets: number,
    counts: number,
    weights: number,
    weightStride: number,
    out: number,
  ): void;
}

let kernel: Kernel | undefined;

function getKernel(): Kernel {
  kernel ??= instantiateKernel<Kernel>(RESAMPLE8_WASM_BASE64);
  return kernel;
}

/** About this many source bytes are copied into the kernel per horizontal call. */
const BAND_BYTES = 256 * 1024;
/** Readable bytes the kernel may touch past the data it uses (loads and stores of 4 to 16 bytes). */
const SLACK = 16;

/** Places regions of these byte sizes one after another (16-byte aligned) and grows the memory to hold them. */
function reserve(k: Kernel, sizes: number[]): number[] {
  let top = 0;
  const offsets = sizes.map((size) => {
    const at = top;
    top += (size + SLACK + 15) & ~15;
    return at;
  });
  const missing = top - k.memory.buffer.byteLength;
  if (missing > 0) k.memory.grow(Math.ceil(missing / 65536));
  return offsets;
}

/** Bytes per output of the packed weights: 4 bytes per tap, taps padded to a multiple of 4. */
function weightStride(coeffs: Coefficients): number {
  return Math.ceil(coeffs.ksize / 4) * 16;
}

/**
 * Writes the kernel's tables at `offsets`, `counts` and `weights`: per output, the byte offset of
 * its first tap (`first * tapBytes` minus `base`), its tap count, and its 22-bit weights split
 * into i16 halves as tap pairs [hi, hi', lo, lo'] (see resample8.wat), zero-padded.
 */
function writeTables(
  k: Kernel,
  coeffs: Coefficients,
  tapBytes: number,
  base: number,
  place: { offsets: number; counts: number; weights: number },
): void {
  const n = coeffs.first.length;
  const memory = k.memory.buffer;
  const offsets = new Int32Array(memory, place.offsets, n);
  const counts = new Int32Array(memory, place.counts, n);
  const stride = weightStride(coeffs) / 2;
  const packed = new Int16Array(memory, place.weights, n * stride).fill(0);
  const fixed = fixedPointWeights(coeffs.weights);
  for (let i = 0; i < n; i++) {
    const taps = at(coeffs.count, i);
    offsets[i] = at(coeffs.first, i) * tapBytes - base;
    counts[i] = taps;
    for (let t = 0; t < taps; t++) {
      const w = at(fixed, i * coeffs.ksize + t);
      const pair = i * stride + (t >> 1) * 4 + (t & 1);
      packed[pair] = w >> 11;
      packed[pair + 2] = w & 2047;
    }
  }
}

/**
 * i8x16.swizzle masks for the horizontal kernel: from a 16-byte load at a tap, the i16 lanes
 * [tap 0, tap 1] of each channel, then [tap 2, tap 3]; 0x80 reads as 0 (missing channels).
 */
function swizzleMasks(channels: number): Uint8Array {
  const masks = new Uint8Array(32).fill(0x80);
  for (let half = 0; half < 2; half++) {
    for (let c = 0; c < channels; c++) {
      for (let j = 0; j < 2; j++) masks[half * 16 + c * 4 + j * 2] = (half * 2 + j) * channels + c;
    }
  }
  return masks;
}

/** Horizontal pass of an 8-bit image (1 to 4 interleaved channels) over `rows` source rows from `row0`. */
export function horizontal8(
  src: Uint8Array,
  srcWidth: number,
  channels: number,
  row0: number,
  rows: number,
  coeffs: Coefficients,
): Uint8Array {
  const k = getKernel();
  const outWidth = coeffs.first.length;
  const rowBytes = srcWidth * channels;
  const outRowBytes = outWidth * channels;
  // Room after each output row for the 4-byte store of its last pixel.
  const outPitch = outRowBytes + 4;
  const band = Math.max(1, Math.min(rows, Math.floor(BAND_BYTES / rowBytes)));
  // The kernel computes rows in pairs: an odd band reads one more source row and writes one more
  // output row (the next band's first, or a spare one after the last).
  const [masks, offsets, counts, weights, source, out] = reserve(k, [
    32,
    4 * outWidth,
    4 * outWidth,
    outWidth * weightStride(coeffs),
    (band + 1) * rowBytes,
    (rows + 1) * outPitch,
  ]) as [number, number, number, number, number, number];
  new Uint8Array(k.memory.buffer, masks, 32).set(swizzleMasks(channels));
  writeTables(k, coeffs, channels, 0, { offsets, counts, weights });
  const memory = new Uint8Array(k.memory.buffer);
  for (let done = 0; done < rows; done += band) {
    const n = Math.min(band, rows - done);
    const start = (row0 + done) * rowBytes;
    memory.set(src.subarray(start, start + n * rowBytes), source);
    k.horizontal(
      source,
      rowBytes,
      n,
      channels,
      outWidth,
      offsets,
      counts,
      weights,
      weightStride(coeffs),
      masks,
      out + done * outPitch,
      outPitch,
    );
  }
  const result = new Uint8Array(rows * outRowBytes);
  for (let y = 0; y < rows; y++)
    result.set(memory.subarray(out + y * outPitch, out + y * outPitch + outRowBytes), y * outRowBytes);
  return result;
}

/** Vertical pass of an 8-bit image whose rows (`rowLength` bytes) start at source row `row0`. */
export function vertical8(src: Uint8Array, rowLength: number, row0: number, coeffs: Coefficients): Uint8Array {
  const k = getKernel();
  const outRows = coeffs.first.length;
  // The kernel reads taps in pairs: a padded last pair reads one row past the source.
  const [offsets, counts, weights, source, out] = reserve(k, [
    4 * outRows,
    4 * outRows,
    outRows * weightStride(coeffs),
    src.length + rowLength,
    outRows * rowLength,
  ]) as [number, number, number, number, number];
  writeTables(k, coeffs, rowLength, row0 * rowLength, { offsets, counts, weights });
  const memory = new Uint8Array(k.memory.buffer);
  memory.set(src, source);
  k.vertical(source, rowLength, outRows, offsets, counts, weights, weightStride(coeffs), out);
  return memory.slice(out, out + outRows * rowLength);
}
