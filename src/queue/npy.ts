// NumPy's .npy format (version 1.0) for the embedding shards, so that numpy.load, PyTorch and
// any other tool open them without a converter. Written by hand: the format is a 10-byte preamble,
// a Python-literal header and the raw little-endian array, and the npm packages for it only read.

import { InputError } from '../errors.js';

export type NpyDtype = 'float32' | 'float16';

const DESCR: Record<NpyDtype, string> = { float32: '<f4', float16: '<f2' };
const MAGIC = '\x93NUMPY';

/** A 2-D C-order array of `shape` whose raw little-endian values are `data` (4 or 2 bytes each). */
export function encodeNpy(data: Uint8Array, dtype: NpyDtype, shape: readonly [number, number]): Buffer {
  const dict = `{'descr': '${DESCR[dtype]}', 'fortran_order': False, 'shape': (${shape[0]}, ${shape[1]}), }`;
  // The header (preamble + dict + padding + newline) is a multiple of 64 bytes, as numpy writes it.
  const unpadded = MAGIC.length + 4 + dict.length + 1;
  const header = dict + ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const preamble = Buffer.alloc(10);
  preamble.write(MAGIC, 0, 'latin1');
  preamble.writeUInt8(1, 6);
  preamble.writeUInt8(0, 7);
  preamble.writeUInt16LE(header.length, 8);
  return Buffer.concat([preamble, Buffer.from(header, 'latin1'), data]);
}

export interface NpyArray {
  dtype: NpyDtype;
  shape: [number, number];
  data: Uint8Array;
}

/** The inverse of encodeNpy, for 2-D little-endian float32/float16 arrays in C order. */
export function decodeNpy(bytes: Uint8Array, name = '.npy'): NpyArray {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.toString('latin1', 0, 6) !== MAGIC) throw new InputError(`${name}: not a .npy file`);
  const major = buf.readUInt8(6);
  const headerLength = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + headerLength);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const dtype = (Object.keys(DESCR) as NpyDtype[]).find((d) => DESCR[d] === descr);
  const shape = /'shape':\s*\((\d+),\s*(\d+)\)/.exec(header);
  if (!dtype || !shape || /'fortran_order':\s*True/.test(header)) {
    throw new InputError(`${name}: expected a 2-D C-order <f4 or <f2 array, header is ${header.trim()}`);
  }
  const rows = Number(shape[1]);
  const cols = Number(shape[2]);
  const data = new Uint8Array(
    bytes.buffer,
    bytes.byteOffset + start + headerLength,
    bytes.byteLength - start - headerLength,
  );
  if (data.byteLength !== rows * cols * (dtype === 'float32' ? 4 : 2)) {
    throw new InputError(`${name}: ${data.byteLength} data bytes for shape (${rows}, ${cols}) ${descr}`);
  }
  return { dtype, shape: [rows, cols], data };
}
