// The legacy (pre-1.6, non-zip) `torch.save` format: five pickles back to back — the magic
// number, the protocol version 1001, sys_info, the object (storages as persistent ids), the list
// of storage keys — then, per key in that order, an int64 element count and the raw bytes.
import { CheckpointError } from '../errors.js';
import { DTYPE_SIZE, type DType } from '../tensor.js';
import { MAX_PICKLE_BYTES, TruncatedPickleError, unpickle } from './pickle.js';
import type { ByteSource } from './source.js';
import { parseStoragePid, type StorageRef } from './storage.js';
import type { TorchCheckpoint } from './torch-zip.js';

const MAGIC = 0x1950a86a20f9469cfc6cn;
const PROTOCOL_VERSION = 1001;

/** Bytes 2..13 of a legacy file: the magic number as a pickled LONG1 (after PROTO n). */
export const LEGACY_SIGNATURE = Uint8Array.from([
  0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19,
]);

/** Pickles are read from a head of the file; it grows only if they do not fit (huge objects). */
const FIRST_HEAD = 1 << 20;
const MAX_HEAD = MAX_PICKLE_BYTES;

interface LegacyHead {
  object: unknown;
  keys: string[];
  dtypes: Map<string, DType>;
  /** Where the storage table starts. */
  end: number;
}

function parseHead(head: Uint8Array, file: string): LegacyHead {
  let pos = 0;
  const next = (persistentLoad?: (pid: unknown) => unknown): unknown => {
    const { value, end } = unpickle(head, { source: file, offset: pos, persistentLoad });
    pos = end;
    return value;
  };
  if (next() !== MAGIC) throw new CheckpointError(file, 'does not start with the torch legacy magic number');
  const protocol = next();
  if (protocol !== PROTOCOL_VERSION)
    throw new CheckpointError(file, `legacy protocol version is ${String(protocol)}, expected ${PROTOCOL_VERSION}`);
  const sysInfo = next();
  if (sysInfo instanceof Map && sysInfo.get('little_endian') === false) {
    throw new CheckpointError(file, 'was saved on a big-endian machine; only little-endian checkpoints are supported');
  }
  const dtypes = new Map<string, DType>();
  const object = next((pid) => {
    const ref = parseStoragePid(pid, file);
    // torch reads each stored storage with the element type of its first reference.
    if (!dtypes.has(ref.key)) dtypes.set(ref.key, ref.dtype);
    return ref;
  });
  const keys = next();
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) {
    throw new CheckpointError(file, 'storage key list (the fifth pickle) is not a list of strings');
  }
  return { object, keys, dtypes, end: pos };
}

async function readHead(source: ByteSource): Promise<LegacyHead> {
  for (let length = Math.min(source.size, FIRST_HEAD); ; length = Math.min(source.size, length * 8, MAX_HEAD)) {
    try {
      return parseHead(await source.read(0, length), source.name);
    } catch (e) {
      if (!(e instanceof TruncatedPickleError) || length >= source.size || length >= MAX_HEAD) throw e;
    }
  }
}

export async function openLegacy(source: ByteSource): Promise<TorchCheckpoint> {
  const file = source.name;
  const { object, keys, dtypes, end } = await readHead(source);

  // The storage table: locate every storage (reading only the 8-byte counts).
  const locations = new Map<string, { position: number; bytes: number }>();
  let position = end;
  for (const key of keys) {
    const dtype = dtypes.get(key);
    if (!dtype) throw new CheckpointError(file, `storage "${key}" is listed but no tensor refers to it`);
    const countBytes = await source.read(position, 8);
    const count = new DataView(countBytes.buffer, countBytes.byteOffset, 8).getBigInt64(0, true);
    const bytes = Number(count) * DTYPE_SIZE[dtype];
    if (count < 0n || !Number.isSafeInteger(bytes))
      throw new CheckpointError(file, `storage "${key}" has an invalid element count ${count}`);
    locations.set(key, { position: position + 8, bytes });
    position += 8 + bytes;
  }
  if (position > source.size) {
    throw new CheckpointError(file, `storages need ${position} bytes but the file has ${source.size} (truncated)`);
  }

  return {
    object,
    async loadStorage(ref: StorageRef) {
      const location = locations.get(ref.key);
      if (!location) throw new CheckpointError(file, `storage "${ref.key}" is missing from the storage key list`);
      const expected = ref.numel * DTYPE_SIZE[ref.dtype];
      if (location.bytes < expected) {
        throw new CheckpointError(
          file,
          `storage "${ref.key}" holds ${location.bytes} bytes, expected ${expected} (${ref.numel} × ${ref.dtype})`,
        );
      }
      return source.read(location.position, expected);
    },
  };
}
