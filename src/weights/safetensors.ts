// safetensors: 8-byte little-endian header length, a JSON header, then raw little-endian data.
// Hand-written because the format is a few lines and we need zero-copy views into large files.
import { readFileSync, writeFileSync } from 'node:fs';
import { CheckpointError } from '../errors.js';
import { DTYPE_SIZE, numel, type DType, type RawTensor, type StateDict } from '../tensor.js';

const FROM_SAFETENSORS: Record<string, DType> = {
  F64: 'float64', F32: 'float32', F16: 'float16', BF16: 'bfloat16',
  I64: 'int64', I32: 'int32', I16: 'int16', I8: 'int8', U8: 'uint8', BOOL: 'bool',
};
const TO_SAFETENSORS = Object.fromEntries(Object.entries(FROM_SAFETENSORS).map(([k, v]) => [v, k])) as Record<DType, string>;

export interface SafetensorsFile {
  tensors: StateDict;
  metadata: Record<string, string>;
}

export function isSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 10) return false;
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return n > 1 && n < bytes.length && bytes[8] === 0x7b; // '{'
}

/** Parses safetensors bytes; tensors are views into `bytes` (no copy). */
export function parseSafetensors(bytes: Uint8Array, file = '<buffer>'): SafetensorsFile {
  if (bytes.length < 8) throw new CheckpointError(file, `safetensors file is ${bytes.length} bytes, too short for its 8-byte header length`);
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  if (headerLength + 8 > bytes.length) {
    throw new CheckpointError(file, `safetensors header claims ${headerLength} bytes but the file has ${bytes.length - 8} (truncated?)`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + headerLength)).toString('utf8'));
  } catch (e) {
    throw new CheckpointError(file, `safetensors header is not valid JSON (${(e as Error).message})`);
  }
  const dataStart = 8 + headerLength;
  const tensors: StateDict = new Map();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') { metadata = entry as Record<string, string>; continue; }
    const { dtype, shape, data_offsets } = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const dt = FROM_SAFETENSORS[dtype];
    if (!dt) throw new CheckpointError(file, `tensor "${name}" has unsupported dtype ${dtype}`);
    const [begin, end] = data_offsets;
    if (end - begin !== numel(shape) * DTYPE_SIZE[dt]) {
      throw new CheckpointError(file, `tensor "${name}" (${dtype} ${JSON.stringify(shape)}) spans ${end - begin} bytes, expected ${numel(shape) * DTYPE_SIZE[dt]}`);
    }
    if (dataStart + end > bytes.length) throw new CheckpointError(file, `tensor "${name}" ends past the end of the file (truncated?)`);
    tensors.set(name, { dtype: dt, shape, bytes: bytes.subarray(dataStart + begin, dataStart + end) });
  }
  return { tensors, metadata };
}

export function readSafetensors(path: string): SafetensorsFile {
  return parseSafetensors(readFileSync(path), path);
}

/** Serialises tensors (largest item size first, so every tensor is aligned to its item size). */
export function serializeSafetensors(tensors: StateDict, metadata: Record<string, string> = {}): Uint8Array {
  const entries = [...tensors].sort((a, b) => DTYPE_SIZE[b[1].dtype] - DTYPE_SIZE[a[1].dtype]);
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    header[name] = { dtype: TO_SAFETENSORS[t.dtype], shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const [, t] of entries) { out.set(t.bytes, pos); pos += t.bytes.length; }
  return out;
}

export function writeSafetensors(path: string, tensors: StateDict, metadata?: Record<string, string>): void {
  writeFileSync(path, serializeSafetensors(tensors, metadata));
}
