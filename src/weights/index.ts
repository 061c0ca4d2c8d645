// Checkpoint files → StateDict, whatever the format: PyTorch zip (torch.save ≥ 1.6, TorchScript
// archives such as the official OpenAI releases), legacy torch.save, safetensors. The format is
// recognised by its first bytes, never by the file name. Nothing in a file is ever executed.
import type { StateDict, TensorShape } from '../tensor.js';
import { ScriptObject, TensorRef } from './pickle.js';
import { openTorch, readStateDict, readStateDictShapes, safetensorsOf, tensorLoader, withSource } from './read.js';
import { StorageRef } from './storage.js';
import { openTorchZip } from './torch-zip.js';

export { detectFormat, type CheckpointFormat } from './read.js';

/**
 * Reads the state dict of a checkpoint file (or of its bytes): parameter and buffer names as
 * `model.state_dict()` gives them (TorchScript modules by attribute path, a `module.` prefix
 * common to all keys removed), each tensor contiguous in the file's own dtype.
 * Only the storages the state dict uses are read (e.g. not an optimizer's), and with `wanted` only
 * those of the tensors it names. Given bytes, the contiguous tensors are views into them (no copy).
 */
export function readCheckpoint(
  pathOrBytes: string | Uint8Array,
  wanted?: (name: string) => boolean,
): Promise<StateDict> {
  return readStateDict(pathOrBytes, openTorchZip, wanted);
}

/**
 * Every tensor's dtype and shape, with only the `wanted` tensors read (PyTorch formats; safetensors:
 * undefined): e.g. a model's config and logit scale, reading none of its weights.
 */
export function readCheckpointShapes(
  pathOrBytes: string | Uint8Array,
  wanted: (name: string) => boolean = () => false,
): Promise<{ shapes: Map<string, TensorShape>; stateDict: StateDict } | undefined> {
  return readStateDictShapes(pathOrBytes, openTorchZip, wanted);
}

/**
 * The whole unpickled object (e.g. Chinese-CLIP's {epoch, step, name, state_dict}) with every
 * tensor loaded as a RawTensor. Python dicts are Maps, tuples and lists arrays, TorchScript
 * modules ScriptObjects. For safetensors: the Map of tensors.
 */
export async function readCheckpointObject(pathOrBytes: string | Uint8Array): Promise<unknown> {
  return withSource(pathOrBytes, async (source, format) => {
    if (format === 'safetensors') return safetensorsOf(pathOrBytes);
    const checkpoint = await openTorch(source, format, openTorchZip);
    const load = tensorLoader(checkpoint, source.name);
    const resolve = async (value: unknown, name: string): Promise<unknown> =>
      value instanceof TensorRef && value.storage instanceof StorageRef ? load(value, name) : value;
    // Replace tensor references in place, visiting each container once (pickles may share or cycle).
    const root: unknown[] = [checkpoint.object];
    const pending: unknown[] = [root];
    const seen = new Set<unknown>();
    while (pending.length) {
      const container = pending.pop();
      if (seen.has(container)) continue;
      seen.add(container);
      if (container instanceof ScriptObject) {
        pending.push(container.state);
        container.state = await resolve(container.state, container.className);
      } else if (Array.isArray(container)) {
        for (let i = 0; i < container.length; i++) {
          pending.push(container[i]);
          container[i] = await resolve(container[i], `[${i}]`);
        }
      } else if (container instanceof Map) {
        for (const [k, v] of container) {
          pending.push(v);
          container.set(k, await resolve(v, String(k)));
        }
      }
    }
    return root[0];
  });
}
