// NumPy's .npy format (version 1.0), so embeddings and features open in numpy, PyTorch and any
// other tool without a converter: a 10-byte preamble, a Python-literal header padded with spaces
// to a multiple of 64 bytes, then the raw little-endian C-order array. Written by hand: the
// format is this short, and the npm packages for it read only or lack float16.

import { InputError } from './errors.js';

export type NpyDtype = 'float32' | 'float16' | 'int32';

const DESCR: Record<NpyDtype, string> = { float32: '<f4', float16: '<f2', int32: '<i4' };
const BYTES: Record<NpyDtype, number> = { float32: 4, float16: 2, int32: 4 };
const MAGIC = '\x93NUMPY';

/**
 * The preamble and header of an array of `shape`; `length` (a multiple of 64, large enough) fixes
 * the header's size so that a streamed file can have its shape rewritten in place at the end.
 */
export function npyHeader(dtype: NpyDtype, shape: readonly number[], length?: number): Buffer {
  const dims = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '${DESCR[dtype]}', 'fortran_order': False, 'shape': ${dims}, }`;
  const unpadded = MAGIC.length + 4 + dict.length + 1;
  const total = length ?? unpadded + ((64 - (unpadded % 64)) % 64);
  if (total < unpadded || total % 64 !== 0) throw new RangeError(`npy header of ${total} bytes cannot hold ${dict}`);
  const header = Buffer.alloc(total, ' ');
  header.write(MAGIC, 0, 'latin1');
  header.writeUInt8(1, 6);
  header.writeUInt8(0, 7);
  header.writeUInt16LE(total - 10, 8);
  header.write(dict, 10, 'latin1');
  header[total - 1] = 0x0a;
  return header;
}

/** A C-order array of `shape` whose raw little-endian values are `data`. */
export function encodeNpy(
  data: Uint8Array | Float32Array | Int32Array,
  dtype: NpyDtype,
  shape: readonly number[],
): Buffer {
  return Buffer.concat([npyHeader(dtype, shape), new Uint8Array(data.buffer, data.byteOffset, data.byteLength)]);
}

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  /** The raw little-endian values. */
  data: Uint8Array;
}

/** The inverse of encodeNpy for 1-D and 2-D little-endian C-order float32, float16 and int32 arrays. */
export function decodeNpy(bytes: Uint8Array, name = '.npy'): NpyArray {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== MAGIC) throw new InputError(`${name}: not a .npy file`);
  const major = buf.readUInt8(6);
  const start = major === 1 ? 10 : 12;
  const headerLength = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const header = buf.toString('latin1', start, start + headerLength);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const dtype = (Object.keys(DESCR) as NpyDtype[]).find((d) => DESCR[d] === descr);
  const dims = /'shape':\s*\(([^)]*)\)/
    .exec(header)?.[1]
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  if (!dtype || !dims || dims.length < 1 || dims.length > 2 || /'fortran_order':\s*True/.test(header)) {
    throw new InputError(`${name}: expected a 1-D or 2-D C-order <f4, <f2 or <i4 array, header is ${header.trim()}`);
  }
  // A plain Uint8Array view (a Buffer's slice() would not copy).
  const data = new Uint8Array(
    bytes.buffer,
    bytes.byteOffset + start + headerLength,
    bytes.byteLength - start - headerLength,
  );
  const expected = dims.reduce((a, b) => a * b, 1) * BYTES[dtype];
  if (data.byteLength !== expected) {
    throw new InputError(`${name}: ${data.byteLength} data bytes for shape (${dims.join(', ')}) ${descr}`);
  }
  return { dtype, shape: dims, data };
}
