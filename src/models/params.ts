// Reads a model's weights out of a state dict into graph parameters, by checkpoint name.
// Every tensor is upcast to float32 (the reference's `model.float()` on CPU) and its shape is
// checked against what the architecture expects, so a wrong checkpoint fails with the key's name.

import { ConfigError } from '../errors.js';
import type { ElementRange, Graph, Value } from '../graph/ir.js';
import { DTYPE_SIZE, toFloat32, type RawTensor, type StateDict } from '../tensor.js';

/** Elements [start, end) of a raw tensor, flattened: a view of its bytes. */
function elements(t: RawTensor, [start, end]: ElementRange): RawTensor {
  const size = DTYPE_SIZE[t.dtype];
  return { dtype: t.dtype, shape: [end - start], bytes: t.bytes.subarray(start * size, end * size) };
}

/** Makes a tensor for a key the state dict lacks (used to create random-weight models). */
export type ParamFiller = (key: string, shape: readonly number[]) => RawTensor;

export class Params {
  private readonly cache: Map<string, Value>;

  constructor(
    readonly graph: Graph,
    private readonly stateDict: StateDict,
    private readonly prefix = '',
    private readonly fill?: ParamFiller,
    cache?: Map<string, Value>,
  ) {
    this.cache = cache ?? new Map();
  }

  /** The parameter `prefix + name`; `shape` (if given) must match the checkpoint's. */
  get(name: string, shape?: readonly number[]): Value {
    const key = this.prefix + name;
    const cached = this.cache.get(key);
    if (cached) return cached;
    if (this.fill && shape && !this.stateDict.has(key)) this.stateDict.set(key, this.fill(key, shape));
    const t = this.stateDict.get(key);
    if (!t) throw new ConfigError(`state dict is missing "${key}"`);
    if (shape && (shape.length !== t.shape.length || shape.some((d, i) => d !== t.shape[i]))) {
      throw new ConfigError(`"${key}" has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    if (!['float32', 'float16', 'bfloat16', 'float64'].includes(t.dtype)) {
      throw new ConfigError(`"${key}" has dtype ${t.dtype}, expected a floating-point tensor`);
    }
    // Converted to float32 when serialised, not now (see Initializer in graph/ir.ts).
    const value = this.graph.param(
      key,
      (scratch, range) => toFloat32(range ? elements(t, range) : t, scratch),
      t.shape,
    );
    this.cache.set(key, value);
    return value;
  }

  /**
   * Submodule `name` applied to `x`, as `self.name(x)` in the reference: `forward` builds it with the
   * submodule's parameters. The graph records the call's input and output under the module's path,
   * which is what a forward hook on it sees (parity checks compare those with the reference's).
   */
  module(name: string, x: Value, forward: (x: Value, p: Params) => Value): Value {
    const output = forward(x, this.scope(name));
    this.graph.recordCall(this.prefix + name, { input: x, output });
    return output;
  }

  /** Parameters under `prefix + sub + "."`. */
  scope(sub: string): Params {
    return new Params(this.graph, this.stateDict, `${this.prefix}${sub}.`, this.fill, this.cache);
  }
}
