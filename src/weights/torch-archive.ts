// The PyTorch zip checkpoint layout, whatever reads the zip: `<prefix>/data.pkl` (the object, with
// storages as persistent ids), `<prefix>/data/<key>` (raw little-endian storage bytes), plus
// entries a weight reader ignores (`version`, `constants.pkl`, `code/`). The prefix is `archive`
// or the file stem. torch-zip.ts reads files with yauzl (Node); zip-bytes.ts reads bytes (browser).
import { entry } from '../checked.js';
import { CheckpointError } from '../errors.js';
import { DTYPE_SIZE } from '../tensor.js';
import { MAX_PICKLE_BYTES, unpickle } from './pickle.js';
import { parseStoragePid, type StorageRef } from './storage.js';

/** An opened checkpoint: the unpickled object, and its storages loaded on demand. */
export interface TorchCheckpoint {
  readonly object: unknown;
  /** The whole storage `ref` names (`ref.numel` elements), little-endian. */
  loadStorage(ref: StorageRef): Promise<Uint8Array>;
}

/** A zip archive as the checkpoint reader needs it: entry names, their sizes, their bytes. */
export interface ZipEntries {
  /** Entry name → uncompressed size. */
  readonly sizes: ReadonlyMap<string, number>;
  /** The first `length` bytes of an entry (never more, whatever its data would inflate to). */
  read(name: string, length: number): Promise<Uint8Array>;
}

/**
 * torch writes every entry stored (uncompressed); a compressed one comes from re-zipping, or is a
 * decompression bomb (a few MB inflating to GBs). Compressed entries of one archive may inflate to
 * this many times the file's size (weights barely compress), plus some slack for small files.
 */
const INFLATE_RATIO = 50;
const INFLATE_SLACK = 64 << 20;

/**
 * What the compressed entries of a `fileSize`-byte archive may inflate to, all together: `spend`
 * takes an entry's share before anything is inflated, or throws a CheckpointError.
 */
export function inflateBudget(fileSize: number, file: string): (entry: string, length: number) => void {
  let left = INFLATE_RATIO * fileSize + INFLATE_SLACK;
  return (entry, length) => {
    if (length > left) {
      throw new CheckpointError(
        file,
        `compressed zip entry "${entry}" would inflate to ${length} bytes, ` +
          `more than ${INFLATE_RATIO}× the file's size allows (a decompression bomb?)`,
      );
    }
    left -= length;
  };
}

/** `<prefix>/data.pkl` at the top level of the archive gives the prefix every other entry uses. */
function findPrefix(names: readonly string[], file: string): string {
  for (const name of names) {
    const match = /^([^/]*\/)?data\.pkl$/.exec(name);
    if (match) return match[1] ?? '';
  }
  const sample = names.slice(0, 5).join(', ');
  throw new CheckpointError(
    file,
    `zip archive has no data.pkl, so it is not a PyTorch checkpoint (entries: ${sample || 'none'})`,
  );
}

export async function torchCheckpointFromZip(zip: ZipEntries, file: string): Promise<TorchCheckpoint> {
  const prefix = findPrefix([...zip.sizes.keys()], file);

  const byteorder = zip.sizes.get(`${prefix}byteorder`);
  if (byteorder !== undefined) {
    const order = new TextDecoder('latin1')
      .decode(await zip.read(`${prefix}byteorder`, Math.min(byteorder, 16)))
      .trim();
    if (order !== 'little')
      throw new CheckpointError(file, `storages are ${order}-endian; only little-endian checkpoints are supported`);
  }

  const pickleName = `${prefix}data.pkl`;
  const pickleSize = entry(zip.sizes, pickleName);
  if (pickleSize > MAX_PICKLE_BYTES) {
    throw new CheckpointError(
      file,
      `"${pickleName}" is ${pickleSize} bytes; a checkpoint's pickle is far smaller (limit ${MAX_PICKLE_BYTES})`,
    );
  }
  const { value: object } = unpickle(await zip.read(pickleName, pickleSize), {
    source: `${file}:${pickleName}`,
    persistentLoad: (pid) => parseStoragePid(pid, file),
  });

  return {
    object,
    async loadStorage(ref) {
      const name = `${prefix}data/${ref.key}`;
      const size = zip.sizes.get(name);
      if (size === undefined) throw new CheckpointError(file, `storage entry "${name}" is missing from the archive`);
      const expected = ref.numel * DTYPE_SIZE[ref.dtype];
      if (size < expected) {
        throw new CheckpointError(
          file,
          `storage entry "${name}" holds ${size} bytes, expected ${expected} (${ref.numel} × ${ref.dtype})`,
        );
      }
      return zip.read(name, expected);
    },
  };
}
