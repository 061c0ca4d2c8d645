// PyTorch zip checkpoints: `torch.save` (≥ 1.6) files and TorchScript archives (`torch.jit.save`,
// the official OpenAI CLIP releases), read with yauzl; the layout is torch-archive.ts's.
import { entry } from '../checked.js';
import yauzl from 'yauzl';
import { CheckpointError } from '../errors.js';
import { memoryBytes, type ByteSource } from './source.js';
import { inflateBudget, torchCheckpointFromZip, type TorchCheckpoint } from './torch-archive.js';

export type { TorchCheckpoint } from './torch-archive.js';

async function openZip(source: ByteSource): Promise<yauzl.ZipFile> {
  const options = { lazyEntries: true, autoClose: false, validateEntrySizes: true };
  try {
    const bytes = memoryBytes(source);
    if (bytes)
      return await yauzl.fromBufferPromise(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), options);
    if (source.fd === undefined) throw new Error('neither bytes in memory nor an open file');
    return await yauzl.fromFdPromise(source.fd, options);
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

export async function openTorchZip(source: ByteSource): Promise<TorchCheckpoint> {
  const file = source.name;
  const zip = await openZip(source);
  const entries = await listEntries(zip, file);
  const spendInflate = inflateBudget(source.size, file);

  /** The first `length` bytes of an entry (never more, whatever its data would inflate to). */
  async function readEntry(entry: yauzl.Entry, length: number): Promise<Uint8Array> {
    try {
      if (entry.compressionMethod === 0 && !entry.isEncrypted()) {
        // Stored entries (all storages torch writes): read straight from the file, no stream.
        const { fileDataStart } = await zip.readLocalFileHeaderPromise(entry, { minimal: true });
        return await source.read(fileDataStart, length);
      }
      spendInflate(entry.fileName, length);
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
        throw new CheckpointError(
          file,
          `zip entry "${entry.fileName}" inflates to ${filled} bytes, expected ${length}`,
        );
      }
      return out;
    } catch (e) {
      if (e instanceof CheckpointError) throw e;
      throw new CheckpointError(file, `cannot read zip entry "${entry.fileName}" (${(e as Error).message})`);
    }
  }

  const sizes = new Map([...entries].map(([name, entry]) => [name, entry.uncompressedSize]));
  return torchCheckpointFromZip({ sizes, read: (name, length) => readEntry(entry(entries, name), length) }, file);
}
