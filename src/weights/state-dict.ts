// Finding the state dict inside an unpickled checkpoint object, named as `model.state_dict()`
// names it: a plain dict of tensors; a TorchScript module tree (attribute paths); or a training
// wrapper such as Chinese-CLIP's {epoch, step, name, state_dict} whose keys carry `module.`.
import { CheckpointError } from '../errors.js';
import { ScriptObject, TensorRef } from './pickle.js';
import { StorageRef } from './storage.js';

export type TensorRefs = Map<string, TensorRef<StorageRef>>;

/** Keys under which training scripts store the model's state dict. */
const WRAPPER_KEYS = ['state_dict', 'model', 'module', 'model_state_dict'];

/** The prefix DistributedDataParallel / DataParallel add to every key. */
const PARALLEL_PREFIX = 'module.';

function isTensor(value: unknown): value is TensorRef<StorageRef> {
  return value instanceof TensorRef && value.storage instanceof StorageRef;
}

function isTensorDict(value: unknown): value is Map<string, TensorRef<StorageRef>> {
  if (!(value instanceof Map) || value.size === 0) return false;
  for (const [k, v] of value) if (typeof k !== 'string' || !isTensor(v)) return false;
  return true;
}

function stripParallelPrefix(dict: Map<string, TensorRef<StorageRef>>): TensorRefs {
  if (![...dict.keys()].every((k) => k.startsWith(PARALLEL_PREFIX))) return new Map(dict);
  return new Map([...dict].map(([k, v]) => [k.slice(PARALLEL_PREFIX.length), v]));
}

/**
 * A TorchScript module's tensors by attribute path. Like `state_dict()`, a module's own tensors
 * come before its submodules'. Iterative, and each object is visited once, so hostile module
 * graphs (deep, cyclic or heavily shared) cannot blow the stack or take exponential time.
 */
function flattenModule(root: ScriptObject): TensorRefs {
  const out: TensorRefs = new Map();
  const seen = new Set<ScriptObject>();
  const pending: [ScriptObject, string][] = [[root, '']];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [module, prefix] = next;
    if (seen.has(module)) continue;
    seen.add(module);
    const attributes = module.state instanceof Map ? [...module.state] : [];
    const children: [ScriptObject, string][] = [];
    for (const [name, value] of attributes) {
      if (isTensor(value)) out.set(`${prefix}${String(name)}`, value);
      else if (value instanceof ScriptObject) children.push([value, `${prefix}${String(name)}.`]);
    }
    pending.push(...children.reverse());
  }
  return out;
}

function describe(value: unknown): string {
  if (value instanceof Map)
    return (
      `a dict with keys ` +
      `[${[...value.keys()].slice(0, 10).map(String).join(', ')}${value.size > 10 ? ', ...' : ''}]`
    );
  if (Array.isArray(value)) return `a list/tuple of ${value.length} items`;
  if (value instanceof ScriptObject) return `a ${value.className} object`;
  return value === null ? 'None' : typeof value;
}

/** The state dict in a checkpoint object, or a CheckpointError saying what was found instead. */
export function findStateDict(object: unknown, file: string): TensorRefs {
  if (object instanceof ScriptObject) {
    const refs = flattenModule(object);
    if (refs.size === 0) throw new CheckpointError(file, `TorchScript module ${object.className} holds no tensors`);
    return refs;
  }
  if (isTensorDict(object)) return stripParallelPrefix(object);
  if (object instanceof Map) {
    for (const key of WRAPPER_KEYS) {
      const inner = object.get(key);
      if (inner instanceof ScriptObject || isTensorDict(inner)) return findStateDict(inner, file);
    }
  }
  throw new CheckpointError(
    file,
    `holds no state dict: expected a dict of tensors, a TorchScript module, or a dict with one under ` +
      `${WRAPPER_KEYS.map((k) => `"${k}"`).join('/')}; found ${describe(object)}`,
  );
}
