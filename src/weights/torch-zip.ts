// PyTorch zip checkpoints: `torch.save` (≥ 1.6) files and TorchScript archives (`torch.jit.save`,
// the official OpenAI CLIP releases). Layout: `<prefix>/data.pkl` (the object, with storages as
// persistent ids), `<prefix>/data/<key>` (raw little-endian storage bytes), plus entries a weight
// reader ignores (`version`, `constants.pkl`, `code/`). The prefix is `archive` or the file stem.
import yauzl from 'yauzl';
import { CheckpointError } from '../errors.js';
import { DTYPE_SIZE } from '../tensor.js';
import { MAX_PICKLE_BYTES, unpickle } from './pickle.js';
import { memoryBytes, type ByteSource } from './source.js';
import { parseStoragePid, type StorageRef } from './storage.js';

/** An opened checkpoint: the unpickled object, and its storages loaded on demand. */
export interface TorchCheckpoint {
  readonly object: unknown;
  /** The whole storage `ref` names (`ref.numel` elements), little-endian. */
  loadStorage(ref: StorageRef): Promise<Uint8Array>;
}

async function openZip(source: ByteSource): Promise<yauzl.ZipFile> {
  const options = { lazyEntries: true, autoClose: false, validateEntrySizes: true };
  try {
    const bytes = memoryBytes(source);
    if (bytes) return await yauzl.fromBufferPromise(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), options);
    return await yauzl.fromFdPromise(source.fd!, options);
  } catch (e) {
    throw new CheckpointError(source.name, `is not a readable zip archive (${(e as Error).message}); truncated?`);
  }
}

async function listEntries(zip: yauzl.ZipFile, file: string): Promise<Map<string, yauzl.Entry>> {
  const entries = new Map<string, yauzl.Entry>();
  try {
    for await (const entry of zip.eachEntry()) entries.set(entry.fileName, entry);
  } catch (e) {
    throw new CheckpointError(file, `zip central directory is damaged (${(e as Error).message})`);
  }
  return entries;
}

/** `<prefix>/data.pkl` at the top level of the archive gives the prefix every other entry uses. */
function findPrefix(entries: Map<string, yauzl.Entry>, file: string): string {
  for (const name of entries.keys()) {
    const match = /^([^/]*\/)?data\.pkl$/.exec(name);
    if (match) return match[1] ?? '';
  }
  const sample = [...entries.keys()].slice(0, 5).join(', ');
  throw new CheckpointError(file, `zip archive has no data.pkl, so it is not a PyTorch checkpoint (entries: ${sample || 'none'})`);
}

/**
 * torch writes every entry stored (uncompressed); a compressed one comes from re-zipping, or is a
 * decompression bomb (a few MB inflating to GBs). Compressed entries of one archive may inflate to
 * this many times the file's size (weights barely compress), plus some slack for small files.
 */
const INFLATE_RATIO = 50;
const INFLATE_SLACK = 64 << 20;

export async function openTorchZip(source: ByteSource): Promise<TorchCheckpoint> {
  const file = source.name;
  const zip = await openZip(source);
  const entries = await listEntries(zip, file);
  const prefix = findPrefix(entries, file);
  let inflateBudget = INFLATE_RATIO * source.size + INFLATE_SLACK;

  /** The first `length` bytes of an entry (never more, whatever its data would inflate to). */
  async function readEntry(entry: yauzl.Entry, length: number): Promise<Uint8Array> {
    try {
      if (entry.compressionMethod === 0 && !entry.isEncrypted()) {
        // Stored entries (all storages torch writes): read straight from the file, no stream.
        const { fileDataStart } = await zip.readLocalFileHeaderPromise(entry, { minimal: true });
        return await source.read(fileDataStart, length);
      }
      if (length > inflateBudget) {
        throw new CheckpointError(file, `compressed zip entry "${entry.fileName}" would inflate to ${length} bytes, ` +
          `more than ${INFLATE_RATIO}× the file's size allows (a decompression bomb?)`);
      }
      inflateBudget -= length;
      const out = new Uint8Array(length);
      let filled = 0;
      const stream = await zip.openReadStreamPromise(entry);
      for await (const chunk of stream) {
        const piece = (chunk as Buffer).subarray(0, length - filled);
        out.set(piece, filled);
        filled += piece.length;
        if (filled === length) break; // leaving the loop destroys the stream: the rest is never inflated
      }
      if (filled < length) {
        throw new CheckpointError(file, `zip entry "${entry.fileName}" inflates to ${filled} bytes, expected ${length}`);
      }
      return out;
    } catch (e) {
      if (e instanceof CheckpointError) throw e;
      throw new CheckpointError(file, `cannot read zip entry "${entry.fileName}" (${(e as Error).message})`);
    }
  }

  const byteorder = entries.get(`${prefix}byteorder`);
  if (byteorder) {
    const bytes = await readEntry(byteorder, Math.min(byteorder.uncompressedSize, 16));
    const order = Buffer.from(bytes).toString('latin1').trim();
    if (order !== 'little') throw new CheckpointError(file, `storages are ${order}-endian; only little-endian checkpoints are supported`);
  }

  const pickleEntry = entries.get(`${prefix}data.pkl`)!;
  if (pickleEntry.uncompressedSize > MAX_PICKLE_BYTES) {
    throw new CheckpointError(file,
      `"${pickleEntry.fileName}" is ${pickleEntry.uncompressedSize} bytes; a checkpoint's pickle is far smaller (limit ${MAX_PICKLE_BYTES})`);
  }
  const { value: object } = unpickle(await readEntry(pickleEntry, pickleEntry.uncompressedSize), {
    source: `${file}:${pickleEntry.fileName}`,
    persistentLoad: (pid) => parseStoragePid(pid, file),
  });

  return {
    object,
    async loadStorage(ref) {
      const name = `${prefix}data/${ref.key}`;
      const entry = entries.get(name);
      if (!entry) throw new CheckpointError(file, `storage entry "${name}" is missing from the archive`);
      const expected = ref.numel * DTYPE_SIZE[ref.dtype];
      if (entry.uncompressedSize < expected) {
        throw new CheckpointError(file, `storage entry "${name}" holds ${entry.uncompressedSize} bytes, expected ${expected} (${ref.numel} × ${ref.dtype})`);
      }
      return readEntry(entry, expected);
    },
  };
}
