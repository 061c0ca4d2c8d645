// Reading a checkpoint, whatever the format and wherever the bytes are: the format is recognised
// by its first bytes, never by the file name; nothing in a file is ever executed. The zip reader
// is passed in (yauzl on files in Node, fflate on bytes in the browser); the rest is shared.
import { CheckpointError, UnsafePickleError } from '../errors.js';
import type { RawTensor, StateDict, TensorShape } from '../tensor.js';
import { openLegacy, LEGACY_SIGNATURE } from './legacy.js';
import type { TensorRef } from './pickle.js';
import { parseSafetensors, readSafetensors } from './safetensors.js';
import { openSource, type ByteSource } from './source.js';
import { findStateDict, type TensorRefs } from './state-dict.js';
import { materializeTensor, type StorageRef } from './storage.js';
import type { TorchCheckpoint } from './torch-archive.js';

/** Opens a PyTorch zip checkpoint from its source. */
export type ZipOpener = (source: ByteSource) => Promise<TorchCheckpoint>;

export type CheckpointFormat = 'torch-zip' | 'torch-legacy' | 'safetensors';

const HEAD_BYTES = 16;

/** The format of a file from its first 16 bytes, or undefined when it is none we read. */
export function detectFormat(head: Uint8Array): CheckpointFormat | undefined {
  // A zip's first local header "PK\x03\x04", or the end record "PK\x05\x06" of an empty zip.
  const zip =
    head[0] === 0x50 && head[1] === 0x4b && ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6));
  if (zip) return 'torch-zip';
  if (head[0] === 0x80 && LEGACY_SIGNATURE.every((b, i) => head[2 + i] === b)) return 'torch-legacy';
  // safetensors: u64 header length (JSON headers are small), then the header's opening '{'.
  if (head.length >= 9 && head[8] === 0x7b && head.subarray(4, 8).every((b) => b === 0)) return 'safetensors';
  return undefined;
}

async function detect(source: ByteSource): Promise<CheckpointFormat> {
  if (source.size === 0) throw new CheckpointError(source.name, 'is empty; expected a checkpoint');
  const head = await source.read(0, Math.min(HEAD_BYTES, source.size));
  const format = detectFormat(head);
  if (format) return format;
  const hex = [...head.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new CheckpointError(
    source.name,
    `is not a checkpoint: expected a PyTorch zip (starts "PK\\x03\\x04"), a legacy torch.save file ("\\x80\\x02" + ` +
      `magic number) or safetensors; it starts with bytes ${hex}`,
  );
}

/** Opens, runs `body`, always closes; unexpected failures become CheckpointErrors naming the file. */
export async function withSource<T>(
  pathOrBytes: string | Uint8Array,
  body: (source: ByteSource, format: CheckpointFormat) => Promise<T>,
): Promise<T> {
  const source = await openSource(pathOrBytes);
  try {
    return await body(source, await detect(source));
  } catch (e) {
    if (e instanceof CheckpointError || e instanceof UnsafePickleError) throw e;
    throw new CheckpointError(source.name, `cannot be read (${(e as Error).message})`);
  } finally {
    await source.close();
  }
}

export function openTorch(source: ByteSource, format: CheckpointFormat, openZip: ZipOpener): Promise<TorchCheckpoint> {
  return format === 'torch-zip' ? openZip(source) : openLegacy(source);
}

export function safetensorsOf(pathOrBytes: string | Uint8Array): StateDict {
  return typeof pathOrBytes === 'string' ? readSafetensors(pathOrBytes).tensors : parseSafetensors(pathOrBytes).tensors;
}

/** Loads each storage once (tensors may share one) and turns every reference into a RawTensor. */
export function tensorLoader(
  checkpoint: TorchCheckpoint,
  file: string,
): (ref: TensorRef<StorageRef>, name: string) => Promise<RawTensor> {
  const storages = new Map<string, Promise<Uint8Array>>();
  return async (ref, name) => {
    let storage = storages.get(ref.storage.key);
    if (!storage) {
      storage = checkpoint.loadStorage(ref.storage);
      storages.set(ref.storage.key, storage);
    }
    return materializeTensor(ref, await storage, file, name);
  };
}

/**
 * Reads the state dict of a checkpoint file (or of its bytes), zips opened by `openZip`: parameter and buffer names as
 * `model.state_dict()` gives them (TorchScript modules by attribute path, a `module.` prefix
 * common to all keys removed), each tensor contiguous in the file's own dtype.
 * Only the storages the state dict uses are read (e.g. not an optimizer's). Given bytes, the
 * contiguous tensors are views into them (no copy).
 */
export async function readStateDict(
  pathOrBytes: string | Uint8Array,
  openZip: ZipOpener,
  wanted: (name: string) => boolean = () => true,
): Promise<StateDict> {
  return withSource(pathOrBytes, async (source, format) => {
    if (format === 'safetensors') {
      const all = safetensorsOf(pathOrBytes);
      return new Map([...all].filter(([name]) => wanted(name)));
    }
    const checkpoint = await openTorch(source, format, openZip);
    return readWanted(checkpoint, findStateDict(checkpoint.object, source.name), source.name, wanted);
  });
}

/** The tensors of `refs` that `wanted` names, read. */
async function readWanted(
  checkpoint: TorchCheckpoint,
  refs: TensorRefs,
  file: string,
  wanted: (name: string) => boolean,
): Promise<StateDict> {
  const load = tensorLoader(checkpoint, file);
  const stateDict: StateDict = new Map();
  for (const [name, ref] of refs) if (wanted(name)) stateDict.set(name, await load(ref, name));
  return stateDict;
}

/**
 * Every tensor's dtype and shape from the pickle alone, with the `wanted` tensors read (PyTorch
 * formats): a model's config and a few scalars without its weights. Undefined for safetensors,
 * whose reader maps the whole file anyway.
 */
export async function readStateDictShapes(
  pathOrBytes: string | Uint8Array,
  openZip: ZipOpener,
  wanted: (name: string) => boolean,
): Promise<{ shapes: Map<string, TensorShape>; stateDict: StateDict } | undefined> {
  return withSource(pathOrBytes, async (source, format) => {
    if (format === 'safetensors') return undefined;
    const checkpoint = await openTorch(source, format, openZip);
    const refs = findStateDict(checkpoint.object, source.name);
    const shapes = new Map([...refs].map(([name, ref]) => [name, { dtype: ref.storage.dtype, shape: ref.shape }]));
    return { shapes, stateDict: await readWanted(checkpoint, refs, source.name, wanted) };
  });
}
