// safetensors: 8-byte little-endian header length, a JSON header, then raw little-endian data.
// Hand-written because the format is a few lines and we need zero-copy views (in memory) and
// tensor-by-tensor reads (from files larger than one JS buffer).
import { closeSync, fstatSync, openSync, readSync, writeFileSync } from 'node:fs';
import { CheckpointError } from '../errors.js';
import { DTYPE_SIZE, numel, type DType, type StateDict } from '../tensor.js';

const FROM_SAFETENSORS: Record<string, DType> = {
  F64: 'float64',
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};
const TO_SAFETENSORS = Object.fromEntries(Object.entries(FROM_SAFETENSORS).map(([k, v]) => [v, k])) as Record<
  DType,
  string
>;

export interface SafetensorsFile {
  tensors: StateDict;
  metadata: Record<string, string>;
}

interface HeaderEntry {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

function isIndex(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}

/** The reference implementation's limit on the JSON header (safetensors' MAX_HEADER_SIZE). */
const MAX_HEADER_BYTES = 100_000_000;

/** Reads the 8-byte header length; `fileSize` bounds it. */
function headerLength(first8: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8)
    throw new CheckpointError(file, `safetensors file is ${fileSize} bytes, too short for its 8-byte header length`);
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n + 8n > BigInt(fileSize)) {
    throw new CheckpointError(
      file,
      `safetensors header claims ${n} bytes but the file has ${fileSize - 8} (truncated?)`,
    );
  }
  if (n > MAX_HEADER_BYTES) {
    throw new CheckpointError(
      file,
      `safetensors header claims ${n} bytes; the format allows at most ${MAX_HEADER_BYTES}`,
    );
  }
  return Number(n);
}

/** Parses and checks the JSON header; offsets are relative to the data section of `dataLength` bytes. */
function parseHeader(
  json: Uint8Array,
  dataLength: number,
  file: string,
): { entries: HeaderEntry[]; metadata: Record<string, string> } {
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { ignoreBOM: true }).decode(json)); // no Buffer: browsers parse too
  } catch (e) {
    throw new CheckpointError(file, `safetensors header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    throw new CheckpointError(file, 'safetensors header is not a JSON object');
  const entries: HeaderEntry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      const strings =
        typeof entry === 'object' &&
        entry !== null &&
        !Array.isArray(entry) &&
        Object.values(entry).every((v) => typeof v === 'string');
      if (!strings) {
        throw new CheckpointError(file, 'safetensors "__metadata__" must map names to strings');
      }
      metadata = entry as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets } = (entry ?? {}) as { dtype?: string; shape?: unknown; data_offsets?: unknown };
    const dt = FROM_SAFETENSORS[dtype ?? ''];
    if (!dt) throw new CheckpointError(file, `tensor "${name}" has unsupported dtype ${dtype}`);
    if (
      !Array.isArray(shape) ||
      !shape.every(isIndex) ||
      !Array.isArray(data_offsets) ||
      data_offsets.length !== 2 ||
      !data_offsets.every(isIndex)
    ) {
      throw new CheckpointError(file, `tensor "${name}" needs an integer "shape" and "data_offsets": [begin, end]`);
    }
    const [begin, end] = data_offsets as [number, number];
    if (end - begin !== numel(shape) * DTYPE_SIZE[dt]) {
      throw new CheckpointError(
        file,
        `tensor "${name}" (${dtype} ${JSON.stringify(shape)}) spans ${end - begin} bytes, expected ` +
          `${numel(shape) * DTYPE_SIZE[dt]}`,
      );
    }
    if (end > dataLength)
      throw new CheckpointError(file, `tensor "${name}" ends past the end of the file (truncated?)`);
    entries.push({ name, dtype: dt, shape, begin, end });
  }
  checkLayout(entries, dataLength, file);
  return { entries, metadata };
}

/**
 * As the reference implementation validates: the tensors, in offset order, tile the data section
 * exactly: each starts where the previous ended (no overlap, no gap), and the last ends at the end
 * of the file (no trailing bytes).
 */
function checkLayout(entries: readonly HeaderEntry[], dataLength: number, file: string): void {
  const ordered = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const { name, begin, end } of ordered) {
    if (begin !== expected) {
      const why = begin < expected ? 'overlapping' : 'gaps';
      throw new CheckpointError(
        file,
        `tensor "${name}" starts at data byte ${begin}, expected ${expected} (tensors must follow each other ` +
          `without ${why})`,
      );
    }
    expected = end;
  }
  if (expected !== dataLength) {
    throw new CheckpointError(
      file,
      `the tensors end at data byte ${expected} but the data section has ${dataLength} bytes (trailing bytes)`,
    );
  }
}

/** Parses safetensors bytes; tensors are views into `bytes` (no copy). */
export function parseSafetensors(input: Uint8Array, file = '<buffer>'): SafetensorsFile {
  // Plain Uint8Array views even for a Buffer, whose slice() would not copy.
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  const n = headerLength(bytes, bytes.length, file);
  const dataStart = 8 + n;
  const { entries, metadata } = parseHeader(bytes.subarray(8, dataStart), bytes.length - dataStart, file);
  const tensors: StateDict = new Map();
  for (const { name, dtype, shape, begin, end } of entries) {
    tensors.set(name, { dtype, shape, bytes: bytes.subarray(dataStart + begin, dataStart + end) });
  }
  return { tensors, metadata };
}

/**
 * Reads a safetensors file tensor by tensor, so files larger than one JS buffer (2 GiB) work and
 * every tensor gets its own aligned buffer.
 */
export function readSafetensors(path: string): SafetensorsFile {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const read = (position: number, length: number): Uint8Array => {
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const got = readSync(fd, out, done, length - done, position + done);
        if (got === 0) throw new CheckpointError(path, `file ended at byte ${position + done} (truncated?)`);
        done += got;
      }
      return out;
    };
    const n = headerLength(read(0, Math.min(8, size)), size, path);
    const dataStart = 8 + n;
    const { entries, metadata } = parseHeader(read(8, n), size - dataStart, path);
    const tensors: StateDict = new Map();
    for (const { name, dtype, shape, begin, end } of entries) {
      tensors.set(name, { dtype, shape, bytes: read(dataStart + begin, end - begin) });
    }
    return { tensors, metadata };
  } finally {
    closeSync(fd);
  }
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
  for (const [, t] of entries) {
    out.set(t.bytes, pos);
    pos += t.bytes.length;
  }
  return out;
}

export function writeSafetensors(path: string, tensors: StateDict, metadata?: Record<string, string>): void {
  writeFileSync(path, serializeSafetensors(tensors, metadata));
}
