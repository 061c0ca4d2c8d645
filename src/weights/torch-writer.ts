// Writers for the torch formats our reader reads, used by tests and benchmarks: `torch.save`
// zip files (what `torch.load` reads: `archive/data.pkl` protocol 2 with `_rebuild_tensor_v2`
// and persistent storage ids, `archive/data/<key>`, `archive/version`) and legacy files.
import { at } from '../checked.js';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import yazl from 'yazl';
import { DTYPE_SIZE, numel, type DType, type StateDict } from '../tensor.js';
import { PersistentId, pickle, PyCall, PyGlobal, PyList, type PickleValue } from './pickle-writer.js';

const STORAGE_CLASS: Record<DType, string> = {
  float64: 'DoubleStorage',
  float32: 'FloatStorage',
  float16: 'HalfStorage',
  bfloat16: 'BFloat16Storage',
  int64: 'LongStorage',
  int32: 'IntStorage',
  int16: 'ShortStorage',
  int8: 'CharStorage',
  uint8: 'ByteStorage',
  bool: 'BoolStorage',
};

const ORDERED_DICT = new PyGlobal('collections', 'OrderedDict');
const REBUILD_TENSOR_V2 = new PyGlobal('torch._utils', '_rebuild_tensor_v2');

export interface StorageSpec {
  key: string;
  dtype: DType;
  /** Elements in the storage. */
  numel: number;
  /** Legacy files only: null, or a storage view `[viewKey, offset, size]` in elements. */
  legacyView?: null | [string, number, number];
}

/** `_rebuild_tensor_v2(storage, offset, shape, stride, False, OrderedDict())`, as torch pickles a tensor. */
export function tensorValue(
  storage: StorageSpec,
  storageOffset: number,
  shape: readonly number[],
  stride: readonly number[],
): PickleValue {
  const pid: PickleValue[] = [
    'storage',
    new PyGlobal('torch', STORAGE_CLASS[storage.dtype]),
    storage.key,
    'cpu',
    storage.numel,
  ];
  if (storage.legacyView !== undefined) pid.push(storage.legacyView);
  return new PyCall(REBUILD_TENSOR_V2, [
    new PersistentId(pid),
    storageOffset,
    shape,
    stride,
    false,
    new PyCall(ORDERED_DICT, []),
  ]);
}

/** `collections.OrderedDict([(key, value), ...])`. */
export function orderedDictValue(entries: Iterable<[string, PickleValue]>): PickleValue {
  return new PyCall(ORDERED_DICT, [new PyList([...entries])]);
}

function contiguousStride(shape: readonly number[]): number[] {
  const stride = new Array<number>(shape.length);
  for (let d = shape.length - 1, s = 1; d >= 0; d--) {
    stride[d] = s;
    s *= at(shape, d);
  }
  return stride;
}

export interface PickledStateDict {
  /** The OrderedDict of tensors, each in its own storage named "0", "1", ... */
  value: PickleValue;
  storages: { key: string; dtype: DType; bytes: Uint8Array }[];
}

export function stateDictValue(stateDict: StateDict, legacy = false): PickledStateDict {
  const storages: PickledStateDict['storages'] = [];
  const entries: [string, PickleValue][] = [];
  for (const [name, t] of stateDict) {
    const spec: StorageSpec = {
      key: String(storages.length),
      dtype: t.dtype,
      numel: numel(t.shape),
      ...(legacy ? { legacyView: null } : {}),
    };
    storages.push({ key: spec.key, dtype: t.dtype, bytes: t.bytes });
    entries.push([name, tensorValue(spec, 0, t.shape, contiguousStride(t.shape))]);
  }
  return { value: orderedDictValue(entries), storages };
}

/** Writes a torch.save-style zip from a data.pkl and its storages (stored, uncompressed). */
export async function writeTorchZipEntries(
  path: string,
  dataPkl: Uint8Array,
  storages: Iterable<{ key: string; bytes: Uint8Array }>,
  prefix = 'archive',
): Promise<void> {
  const zip = new yazl.ZipFile();
  const add = (name: string, data: Uint8Array): void =>
    zip.addBuffer(Buffer.from(data.buffer, data.byteOffset, data.byteLength), `${prefix}/${name}`, { compress: false });
  add('data.pkl', dataPkl);
  add('byteorder', Buffer.from('little'));
  for (const { key, bytes } of storages) add(`data/${key}`, bytes);
  add('version', Buffer.from('3\n'));
  zip.end();
  const out = createWriteStream(path);
  zip.outputStream.pipe(out);
  await once(out, 'close');
}

/** Writes `stateDict` as `torch.save(state_dict, path)` would (torch ≥ 1.6 zip format). */
export function writeTorchZip(path: string, stateDict: StateDict): Promise<void> {
  const { value, storages } = stateDictValue(stateDict);
  return writeTorchZipEntries(path, pickle(value), storages);
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_SYS_INFO = new Map<string, PickleValue>([
  ['protocol_version', 1001],
  ['little_endian', true],
  [
    'type_sizes',
    new Map<string, PickleValue>([
      ['short', 2],
      ['int', 4],
      ['long', 4],
    ]),
  ],
]);

/** A legacy (pre-1.6) torch.save file: five pickles, then each storage as int64 count + bytes. */
export function legacyBytes(
  object: PickleValue,
  storages: readonly { key: string; dtype: DType; bytes: Uint8Array }[],
): Uint8Array {
  const parts: Uint8Array[] = [
    pickle(LEGACY_MAGIC),
    pickle(1001),
    pickle(LEGACY_SYS_INFO),
    pickle(object),
    pickle(new PyList(storages.map((s) => s.key))),
  ];
  for (const { dtype, bytes } of storages) {
    const count = new Uint8Array(8);
    new DataView(count.buffer).setBigInt64(0, BigInt(bytes.length / DTYPE_SIZE[dtype]), true);
    parts.push(count, bytes);
  }
  return Buffer.concat(parts);
}

/** `torch.save(state_dict, path, _use_new_zipfile_serialization=False)` as bytes. */
export function serializeLegacy(stateDict: StateDict): Uint8Array {
  const { value, storages } = stateDictValue(stateDict, true);
  return legacyBytes(value, storages);
}
