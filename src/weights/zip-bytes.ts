// PyTorch zip checkpoints held in memory (the browser's fetched bytes), read with fflate: no
// Node APIs. Entries are listed from the central directory without inflating anything, then
// each storage is extracted on demand (torch writes them uncompressed).
import { unzipSync, type UnzipFileInfo } from 'fflate';
import { CheckpointError } from '../errors.js';
import { memoryBytes, type ByteSource } from './source.js';
import { torchCheckpointFromZip, type TorchCheckpoint } from './torch-archive.js';

export async function openTorchZipBytes(source: ByteSource): Promise<TorchCheckpoint> {
  const bytes = memoryBytes(source);
  if (!bytes) throw new CheckpointError(source.name, 'the in-memory zip reader needs the checkpoint as bytes');
  const unzip = (wanted: (entry: UnzipFileInfo) => boolean, what: string) => {
    try {
      return unzipSync(bytes, { filter: wanted });
    } catch (e) {
      throw new CheckpointError(source.name, `${what} (${(e as Error).message}); truncated?`);
    }
  };
  const sizes = new Map<string, number>();
  unzip((entry) => {
    sizes.set(entry.name, entry.originalSize);
    return false;
  }, 'is not a readable zip archive');
  return torchCheckpointFromZip(
    {
      sizes,
      // fflate inflates a whole entry: a compressed bomb costs the page its memory (torch writes
      // storages uncompressed, so real checkpoints are read without inflating anything).
      read: async (name, length) => {
        const entry = unzip((e) => e.name === name, `cannot read zip entry "${name}"`)[name];
        if (!entry) throw new CheckpointError(source.name, `zip entry "${name}" is missing`);
        if (entry.length < length)
          throw new CheckpointError(source.name, `zip entry "${name}" holds ${entry.length} bytes, expected ${length}`);
        return entry.subarray(0, length);
      },
    },
    source.name,
  );
}
