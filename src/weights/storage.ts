// Storages and tensor views: what a torch persistent id names, and how a (possibly strided,
// offset) view of a storage becomes a C-contiguous RawTensor.
import { at } from '../checked.js';
import { CheckpointError } from '../errors.js';
import { DTYPE_SIZE, numel, type DType, type RawTensor } from '../tensor.js';
import { StorageType, type TensorRef } from './pickle.js';

/** A storage named by a checkpoint: the bytes of `data/<key>` (zip) or of key `<key>` (legacy). */
export class StorageRef {
  constructor(
    readonly key: string,
    readonly dtype: DType,
    /** Elements in the stored storage. */
    readonly numel: number,
    /** Legacy storage views: the view's first element and length inside the stored storage. */
    readonly viewOffset = 0,
    readonly viewNumel = numel,
  ) {}
}

/**
 * Parses `('storage', torch.<T>Storage, key, location, numel[, view_metadata])`.
 * view_metadata (legacy format only) is None or `(view_key, offset, size)` in elements.
 */
export function parseStoragePid(pid: unknown, file: string): StorageRef {
  const fail = (what: string): never => {
    throw new CheckpointError(
      file,
      `persistent id ${what}; expected ('storage', torch.<T>Storage, key, location, numel)`,
    );
  };
  if (!Array.isArray(pid) || pid[0] !== 'storage' || (pid.length !== 5 && pid.length !== 6))
    return fail('has an unknown form');
  const [, type, key, , count, view] = pid as unknown[];
  if (!(type instanceof StorageType)) return fail('does not name a storage class');
  if (typeof key !== 'string') return fail('has a non-string key');
  if (!Number.isSafeInteger(count) || (count as number) < 0)
    return fail(`has an invalid element count ${String(count)}`);
  const total = count as number;
  if (view === undefined || view === null) return new StorageRef(key, type.dtype, total);
  const [, offset, size] = Array.isArray(view) ? view : [];
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(size) || offset < 0 || size < 0 || offset + size > total) {
    return fail(`has a storage view ${JSON.stringify(view)} outside its ${total}-element storage`);
  }
  return new StorageRef(key, type.dtype, total, offset, size);
}

const MAX_EXPANDED_BYTES = 64 << 20;

function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expected) return false;
    expected *= at(shape, d);
  }
  return true;
}

/**
 * The tensor `ref` describes, as contiguous bytes. `storage` holds the whole stored storage
 * (`ref.storage.numel` elements). Contiguous views share its memory; strided ones are copied.
 */
export function materializeTensor(
  ref: TensorRef<StorageRef>,
  storage: Uint8Array,
  file: string,
  name: string,
): RawTensor {
  const { dtype, viewOffset, viewNumel } = ref.storage;
  const size = DTYPE_SIZE[dtype];
  const { shape, stride } = ref;
  const count = numel(shape);
  if (count === 0) return { dtype, shape, bytes: new Uint8Array(0) };
  const last = ref.storageOffset + shape.reduce((acc, n, d) => acc + (n - 1) * at(stride, d), 0);
  if (last >= viewNumel) {
    throw new CheckpointError(
      file,
      `tensor "${name}" (shape ${JSON.stringify(shape)}, stride ${JSON.stringify(stride)}, offset ` +
        `${ref.storageOffset}) reaches element ${last} of a ${viewNumel}-element storage "${ref.storage.key}"`,
    );
  }
  // Overlapping strides (0 to broadcast) can describe a huge tensor over a tiny storage: copying it
  // out would allocate what the file never held. Allowed up to a size a real expanded buffer has.
  if (count > viewNumel && count * size > MAX_EXPANDED_BYTES) {
    throw new CheckpointError(
      file,
      `tensor "${name}" (shape ${JSON.stringify(shape)}, stride ${JSON.stringify(stride)}) ` +
        `expands a ${viewNumel}-element storage to ${count} elements; refusing more than ${MAX_EXPANDED_BYTES} bytes`,
    );
  }
  const start = viewOffset + ref.storageOffset;
  if (isContiguous(shape, stride)) {
    return { dtype, shape, bytes: storage.subarray(start * size, (start + count) * size) };
  }
  return { dtype, shape, bytes: gatherStrided(storage, start, shape, stride, size) };
}

/** Copies a strided view into C order, one innermost row at a time. */
function gatherStrided(
  storage: Uint8Array,
  start: number,
  shape: readonly number[],
  stride: readonly number[],
  size: number,
): Uint8Array {
  const rank = shape.length;
  const out = new Uint8Array(numel(shape) * size);
  const rowLength = at(shape, rank - 1);
  const rowStride = at(stride, rank - 1);
  const index = new Array<number>(rank - 1).fill(0);
  let outPos = 0;
  for (;;) {
    let element = start;
    for (let d = 0; d < rank - 1; d++) element += at(index, d) * at(stride, d);
    if (rowStride === 1) {
      out.set(storage.subarray(element * size, (element + rowLength) * size), outPos);
      outPos += rowLength * size;
    } else {
      for (let i = 0; i < rowLength; i++, element += rowStride) {
        const from = element * size;
        // Inside the storage (checked by the caller against the last element): see checked.ts on hot loops.
        for (let b = 0; b < size; b++) out[outPos++] = storage[from + b] ?? 0;
      }
    }
    // Advance the odometer over all but the innermost dimension.
    let d = rank - 2;
    for (; d >= 0; d--) {
      const next = at(index, d) + 1;
      index[d] = next === at(shape, d) ? 0 : next;
      if (index[d] !== 0) break;
    }
    if (d < 0) return out;
  }
}
