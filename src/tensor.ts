// Tensors as they come out of checkpoint files, and conversions to what the runtime needs.
// A RawTensor keeps the file's dtype and little-endian, C-contiguous bytes, so a reader never
// decides precision; the model code upcasts to float32 as the reference does on CPU.

import { assertLength, at } from './checked.js';
import { HALF_WASM_BASE64 } from './wasm/half-wasm.js';
import { instantiateKernel, type KernelMemory } from './wasm/instantiate.js';

export type DType =
  | 'float64'
  | 'float32'
  | 'float16'
  | 'bfloat16'
  | 'int64'
  | 'int32'
  | 'int16'
  | 'int8'
  | 'uint8'
  | 'bool';

export const DTYPE_SIZE: Record<DType, number> = {
  float64: 8,
  float32: 4,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** A tensor in a checkpoint: dtype, shape and C-contiguous little-endian bytes. */
export interface RawTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly bytes: Uint8Array;
}

/** What a tensor is without its bytes: enough to infer a model's config (models/config.ts). */
export type TensorShape = Pick<RawTensor, 'dtype' | 'shape'>;

/** Parameter and buffer name → tensor, in the file's order. */
export type StateDict = Map<string, RawTensor>;

/** What the public API returns: plain typed arrays with a shape. */
export interface Tensor<A extends Float32Array | Int32Array | BigInt64Array | Uint8Array = Float32Array> {
  readonly data: A;
  readonly shape: readonly number[];
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

// Half-precision conversions are hand-written on purpose: the maintained @petamoriken/float16
// (bit-identical results) took 14-17 s each way for 20M values where these take 0.3-1.4 s (Node 20,
// no native Float16Array), and official checkpoints hold ~150M-400M half values. Bulk half → float
// runs in WebAssembly (halvesToFloats); halfToFloat is the scalar definition it is tested against.

/** IEEE half → float32, exact (every half value is representable in float32). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const scratchFloat = new Float32Array(1);
const scratchBits = new Uint32Array(scratchFloat.buffer);

/** float32 → IEEE half with round-to-nearest-even (what torch's .half() does). */
export function floatToHalf(value: number): number {
  scratchFloat[0] = value;
  return float32BitsToHalf(at(scratchBits, 0));
}

function float32BitsToHalf(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > half || (rest === half && r & 1)) r++;
    return sign | r;
  }
  let r = mant >>> 13;
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && r & 1)) {
    r++;
    if (r === 0x400) {
      r = 0;
      e++;
      if (e >= 31) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | r;
}

interface HalfKernel {
  memory: KernelMemory;
  convert(src: number, groups: number, dst: number): void;
}
let halfKernel: HalfKernel | undefined;

/** Halves per kernel call: src (2 bytes each) then dst (4 each) fit in the kernel's two 64 KiB pages. */
const HALF_CHUNK = 16384;

/** src (IEEE half bits) → out as float32, exact, through the WebAssembly kernel (src/wasm/half.wat). */
function halvesToFloats(src: Uint16Array, out: Float32Array): void {
  halfKernel ??= instantiateKernel<HalfKernel>(HALF_WASM_BASE64);
  const { memory, convert } = halfKernel;
  const dstOffset = HALF_CHUNK * 2;
  const halves = new Uint16Array(memory.buffer, 0, HALF_CHUNK);
  const floats = new Float32Array(memory.buffer, dstOffset, HALF_CHUNK);
  for (let start = 0; start < src.length; start += HALF_CHUNK) {
    const n = Math.min(HALF_CHUNK, src.length - start);
    halves.set(src.subarray(start, start + n));
    convert(0, Math.ceil(n / 4), dstOffset); // lanes past n convert stale halves, never copied out
    out.set(n === HALF_CHUNK ? floats : floats.subarray(0, n), start);
  }
}

function view<T>(
  ctor: { new (b: ArrayBuffer, o: number, n: number): T; BYTES_PER_ELEMENT: number },
  bytes: Uint8Array,
): T {
  // Typed-array views need aligned offsets; copy once when the file's layout is not aligned.
  const size = ctor.BYTES_PER_ELEMENT;
  const aligned = bytes.byteOffset % size === 0 ? bytes : new Uint8Array(bytes); // a copy (Buffer#slice would not copy)
  return new ctor(aligned.buffer as ArrayBuffer, aligned.byteOffset, aligned.byteLength / size);
}

/**
 * Any floating or integer tensor as float32 values (the reference's `model.float()`). Float32 and
 * float16 tensors are written into the start of `scratch` when it is big enough (a serialiser
 * converting weights one after another reuses one buffer instead of allocating each).
 */
export function toFloat32(t: RawTensor, scratch?: Float32Array): Float32Array {
  const n = numel(t.shape);
  const into = scratch && scratch.length >= n ? scratch.subarray(0, n) : undefined;
  switch (t.dtype) {
    case 'float32': {
      if (!into) return view(Float32Array, t.bytes).slice();
      into.set(view(Float32Array, t.bytes));
      return into;
    }
    case 'float64':
      return Float32Array.from(view(Float64Array, t.bytes));
    case 'float16': {
      const src = view(Uint16Array, t.bytes);
      const out = into ?? new Float32Array(n);
      assertLength(src, n, t.dtype);
      halvesToFloats(src, out);
      return out;
    }
    case 'bfloat16': {
      const src = view(Uint16Array, t.bytes);
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      assertLength(src, n, t.dtype);
      for (let i = 0; i < n; i++) bits[i] = (src[i] ?? 0) << 16;
      return out;
    }
    case 'int64':
      return Float32Array.from(view(BigInt64Array, t.bytes), Number);
    case 'int32':
      return Float32Array.from(view(Int32Array, t.bytes));
    case 'int16':
      return Float32Array.from(view(Int16Array, t.bytes));
    case 'int8':
      return Float32Array.from(view(Int8Array, t.bytes));
    case 'uint8':
    case 'bool':
      return Float32Array.from(t.bytes);
  }
}

/** Any float tensor as float16 (how OpenAI's released checkpoints store their weights). */
export function toFloat16(t: RawTensor): RawTensor {
  const values = toFloat32(t);
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const half = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) half[i] = float32BitsToHalf(bits[i] ?? 0); // hot loop: see checked.ts
  return { dtype: 'float16', shape: t.shape, bytes: new Uint8Array(half.buffer) };
}

/** Integer tensor values as JS numbers (int64 beyond 2^53 loses precision; used for ids and counts). */
export function toInt32(t: RawTensor): Int32Array {
  switch (t.dtype) {
    case 'int64':
      return Int32Array.from(view(BigInt64Array, t.bytes), Number);
    case 'int32':
      return view(Int32Array, t.bytes).slice();
    case 'int16':
      return Int32Array.from(view(Int16Array, t.bytes));
    case 'int8':
      return Int32Array.from(view(Int8Array, t.bytes));
    case 'uint8':
    case 'bool':
      return Int32Array.from(t.bytes);
    default:
      throw new TypeError(`expected an integer tensor, got ${t.dtype}`);
  }
}

/** A float32 array as a RawTensor (for writers and tests). */
export function fromFloat32(data: Float32Array, shape: readonly number[]): RawTensor {
  return { dtype: 'float32', shape, bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}
