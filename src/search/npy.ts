// NumPy .npy matrices (format versions 1-3): float32 or float16, little-endian, C order. Hand-read
// because the format is a few lines (a magic string, a header dict, raw data) and no maintained
// npm package reads float16 without pulling in a tensor library.
import { readFileSync } from 'node:fs';
import { InputError } from '../errors.js';
import { halfToFloat } from '../tensor.js';

export interface Matrix {
  data: Float32Array;
  shape: [number, number];
}

export function readNpy(file: string): Matrix {
  const bytes = readFileSync(file);
  if (bytes.length < 10 || bytes.toString('latin1', 0, 6) !== '\x93NUMPY')
    throw new InputError(`${file}: not a .npy file`);
  const major = bytes[6]!;
  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLength;
  const header = bytes.toString('latin1', major === 1 ? 10 : 12, start);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const dims = /'shape':\s*\(([^)]*)\)/
    .exec(header)?.[1]
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  if (!descr || !dims || dims.length !== 2 || fortran) {
    throw new InputError(`${file}: expected a C-order 2-d matrix, got header ${header.trim()}`);
  }
  const [rows, cols] = dims as [number, number];
  const count = rows * cols;
  const data = new Float32Array(count);
  if (descr === '<f4') {
    if (bytes.length < start + 4 * count) throw new InputError(`${file}: truncated (${rows}×${cols} float32 expected)`);
    new Uint8Array(data.buffer).set(bytes.subarray(start, start + 4 * count));
  } else if (descr === '<f2') {
    if (bytes.length < start + 2 * count) throw new InputError(`${file}: truncated (${rows}×${cols} float16 expected)`);
    for (let i = 0; i < count; i++) data[i] = halfToFloat(bytes.readUInt16LE(start + 2 * i));
  } else {
    throw new InputError(`${file}: dtype ${descr} (expected <f4 or <f2)`);
  }
  return { data, shape: [rows, cols] };
}
