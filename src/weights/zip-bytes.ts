// PyTorch zip checkpoints held in memory (the browser's fetched bytes): no Node APIs. Entries are
// listed from the central directory, then each storage is read on demand: stored entries (all
// torch writes) are copied out; deflated ones are inflated with fflate's streaming Inflate, fed a
// slice at a time and stopped at the bytes the storage needs, within the same budget as Node's
// reader (torch-zip.ts). fflate's unzipSync cannot do this: it inflates whole entries and does not
// say where an entry's data lies, hence the small directory walker here.
import { Inflate } from 'fflate';
import { CheckpointError } from '../errors.js';
import { memoryBytes, type ByteSource } from './source.js';
import { inflateBudget, torchCheckpointFromZip, type TorchCheckpoint } from './torch-archive.js';

interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated. */
  method: number;
  compressedSize: number;
  size: number;
  localHeader: number;
}

const END_OF_DIRECTORY = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_END = 0x06064b50;
const DIRECTORY_ENTRY = 0x02014b50;
const LOCAL_HEADER = 0x04034b50;
/** Compressed bytes given to the inflater at a time: at most ~1032× as much comes out of one. */
const SLICE = 1 << 16;

/** The central directory's entries, by name (zip64 sizes and offsets included). */
function listEntries(b: Uint8Array, file: string): Map<string, ZipEntry> {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const damaged = (what: string) => new CheckpointError(file, `is not a readable zip archive (${what}); truncated?`);
  let end = b.length - 22;
  while (end >= 0 && view.getUint32(end, true) !== END_OF_DIRECTORY) {
    if (b.length - end > 22 + 0xffff) throw damaged('no end of central directory');
    end--;
  }
  if (end < 0) throw damaged('no end of central directory');
  let count = view.getUint16(end + 10, true);
  let at = view.getUint32(end + 16, true);
  if (end >= 20 && view.getUint32(end - 20, true) === ZIP64_LOCATOR) {
    const zip64End = Number(view.getBigUint64(end - 12, true));
    if (zip64End + 56 > b.length || view.getUint32(zip64End, true) !== ZIP64_END) throw damaged('bad zip64 record');
    count = Number(view.getBigUint64(zip64End + 32, true));
    at = Number(view.getBigUint64(zip64End + 48, true));
  }
  const entries = new Map<string, ZipEntry>();
  for (let i = 0; i < count; i++) {
    if (at + 46 > b.length || view.getUint32(at, true) !== DIRECTORY_ENTRY) throw damaged('bad directory entry');
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const entry: ZipEntry = {
      name: new TextDecoder().decode(b.subarray(at + 46, at + 46 + nameLength)),
      method: view.getUint16(at + 10, true),
      compressedSize: view.getUint32(at + 20, true),
      size: view.getUint32(at + 24, true),
      localHeader: view.getUint32(at + 42, true),
    };
    // Zip64: the fields set to 0xffffffff follow, in this order, in extra field 0x0001.
    for (let x = at + 46 + nameLength; x + 4 <= at + 46 + nameLength + extraLength; ) {
      const id = view.getUint16(x, true);
      const length = view.getUint16(x + 2, true);
      if (id === 1) {
        let field = x + 4;
        for (const key of ['size', 'compressedSize', 'localHeader'] as const) {
          if (entry[key] !== 0xffffffff || field + 8 > x + 4 + length) continue;
          entry[key] = Number(view.getBigUint64(field, true));
          field += 8;
        }
      }
      x += 4 + length;
    }
    entries.set(entry.name, entry);
    at += 46 + nameLength + extraLength + view.getUint16(at + 32, true);
  }
  return entries;
}

export async function openTorchZipBytes(source: ByteSource): Promise<TorchCheckpoint> {
  const file = source.name;
  const given = memoryBytes(source);
  if (!given) throw new CheckpointError(file, 'the in-memory zip reader needs the checkpoint as bytes');
  const bytes: Uint8Array = given;
  const entries = listEntries(bytes, file);
  const spendInflate = inflateBudget(bytes.length, file);

  /** The entry's data: after its local header, whose name and extra field lengths may differ from the directory's. */
  function data(entry: ZipEntry): Uint8Array {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const at = entry.localHeader;
    if (at + 30 > bytes.length || view.getUint32(at, true) !== LOCAL_HEADER)
      throw new CheckpointError(file, `zip entry "${entry.name}" has no local header; truncated?`);
    const start = at + 30 + view.getUint16(at + 26, true) + view.getUint16(at + 28, true);
    if (start + entry.compressedSize > bytes.length)
      throw new CheckpointError(file, `zip entry "${entry.name}" runs past the end of the file; truncated?`);
    return bytes.subarray(start, start + entry.compressedSize);
  }

  /** The first `length` bytes a deflated entry inflates to, inflating no more than a slice past them. */
  function inflate(entry: ZipEntry, length: number): Uint8Array {
    spendInflate(entry.name, length);
    const out = new Uint8Array(length);
    let produced = 0;
    const inflater = new Inflate((chunk) => {
      if (produced < length) out.set(chunk.subarray(0, length - produced), produced);
      produced += chunk.length;
    });
    const compressed = data(entry);
    try {
      for (let at = 0; at < compressed.length && produced < length; at += SLICE)
        inflater.push(compressed.subarray(at, at + SLICE), at + SLICE >= compressed.length);
    } catch (e) {
      throw new CheckpointError(file, `cannot read zip entry "${entry.name}" (${(e as Error).message})`);
    }
    if (produced > entry.size)
      throw new CheckpointError(
        file,
        `zip entry "${entry.name}" inflates to more than the ${entry.size} bytes it declares`,
      );
    if (produced < length)
      throw new CheckpointError(file, `zip entry "${entry.name}" inflates to ${produced} bytes, expected ${length}`);
    return out;
  }

  return torchCheckpointFromZip(
    {
      sizes: new Map([...entries].map(([name, entry]) => [name, entry.size])),
      read: async (name, length) => {
        const entry = entries.get(name);
        if (!entry) throw new CheckpointError(file, `zip entry "${name}" is missing`);
        if (entry.method === 8) return inflate(entry, length);
        if (entry.method !== 0)
          throw new CheckpointError(file, `zip entry "${name}" uses compression method ${entry.method}`);
        if (entry.compressedSize < length)
          throw new CheckpointError(
            file,
            `zip entry "${name}" holds ${entry.compressedSize} bytes, expected ${length}`,
          );
        return data(entry).slice(0, length);
      },
    },
    file,
  );
}
