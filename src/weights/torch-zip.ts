// PyTorch zip checkpoints: `torch.save` (≥ 1.6) files and TorchScript archives (`torch.jit.save`,
// the official OpenAI CLIP releases). Layout: `<prefix>/data.pkl` (the object, with storages as
// persistent ids), `<prefix>/data/<key>` (raw little-endian storage bytes), plus entries a weight
// reader ignores (`version`, `constants.pkl`, `code/`). The prefix is `archive` or the file stem.
import yauzl from 'yauzl';
import { CheckpointError } from '../errors.js';
import { DTYPE_SIZE } from '../tensor.js';
import { unpickle } from './pickle.js';
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

export async function openTorchZip(source: ByteSource): Promise<TorchCheckpoint> {
  const file = source.name;
  const zip = await openZip(source);
  const entries = await listEntries(zip, file);
  const prefix = findPrefix(entries, file);

  async function readEntry(entry: yauzl.Entry): Promise<Uint8Array> {
    try {
      if (entry.compressionMethod === 0 && !entry.isEncrypted()) {
        // Stored entries (all storages torch writes): read straight from the file, no stream.
        const { fileDataStart } = await zip.readLocalFileHeaderPromise(entry, { minimal: true });
        return await source.read(fileDataStart, entry.uncompressedSize);
      }
      const chunks: Buffer[] = [];
      for await (const chunk of await zip.openReadStreamPromise(entry)) chunks.push(chunk as Buffer);
      const all = Buffer.concat(chunks);
      return new Uint8Array(all.buffer, all.byteOffset, all.byteLength);
    } catch (e) {
      if (e instanceof CheckpointError) throw e;
      throw new CheckpointError(file, `cannot read zip entry "${entry.fileName}" (${(e as Error).message})`);
    }
  }

  const byteorder = entries.get(`${prefix}byteorder`);
  if (byteorder) {
    const order = Buffer.from(await readEntry(byteorder)).toString('latin1').trim();
    if (order !== 'little') throw new CheckpointError(file, `storages are ${order}-endian; only little-endian checkpoints are supported`);
  }

  const pickleEntry = entries.get(`${prefix}data.pkl`)!;
  const { value: object } = unpickle(await readEntry(pickleEntry), {
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
      const bytes = await readEntry(entry);
      return bytes.length === expected ? bytes : bytes.subarray(0, expected);
    },
  };
}
