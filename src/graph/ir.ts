// The graph IR: typed values (dtype + shape, with symbolic dims such as "batch") produced by
// nodes of a small set of primitive ops (ops.ts). Model code builds graphs through the Value
// methods below, which read like PyTorch; shapes are checked as each node is added, so a
// mismatch is reported with the op and the shapes at build time, not when ONNX Runtime runs.
// The IR keeps every node as (op, inputs, attrs) so that later passes (autodiff, fusions)
// can walk and rewrite it; onnx.ts serialises it.

import { first } from '../checked.js';
import { GraphError } from '../errors.js';
import type { DType } from '../tensor.js';
import { PRIMITIVES, type Attrs, type OpName, type OutputType } from './ops.js';

/** A dimension: a fixed size, or a symbol shared by every value with that extent ("batch"). */
export type Dim = number | string;
export type Shape = readonly Dim[];

/** Float32/int data of an initializer (a parameter or a constant). */
export type ConstData = Float32Array | Int32Array | BigInt64Array | Uint8Array | Int8Array;

/** Elements [start, end) of a flattened tensor. */
export type ElementRange = readonly [start: number, end: number];

/**
 * A parameter or constant. `data()` makes its values on request: model weights convert from the
 * checkpoint's dtype each time they are serialised, one tensor at a time, so a model's float32
 * weights never all exist in JavaScript at once (they would double the memory of a load).
 */
export interface Initializer {
  readonly name: string;
  readonly value: Value;
  /**
   * The values. With `scratch`, they may be written into its start and that view returned,
   * valid until the next call with the same scratch (serialisation writes each tensor at once).
   * With `range` [start, end), only those elements of the flattened tensor (a slice of leading
   * rows, made without converting the rest: fold.ts's row slices of packed weights).
   */
  data(scratch?: Float32Array, range?: ElementRange): ConstData;
}

export interface Node {
  readonly op: OpName;
  readonly inputs: readonly Value[];
  readonly attrs: Attrs;
  readonly outputs: Value[];
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export class Value {
  constructor(
    readonly graph: Graph,
    readonly id: number,
    readonly dtype: DType,
    readonly shape: Shape,
    /** The node that computes it; undefined for graph inputs and initializers. */
    readonly producer?: Node,
  ) {}

  get rank(): number {
    return this.shape.length;
  }

  /** A fixed dimension (negative indexes from the end); throws if it is symbolic. */
  dim(i: number): number {
    const d = this.shape[i < 0 ? this.rank + i : i];
    if (typeof d !== 'number')
      throw new GraphError(
        `dimension ${i} of ${formatShape(this.shape)} is symbolic (${d}), a fixed size was expected`,
      );
    return d;
  }

  // Elementwise, with numpy broadcasting.
  add(other: Value | number): Value {
    return this.graph.op1('Add', [this, this.graph.lift(other, this)]);
  }
  sub(other: Value | number): Value {
    return this.graph.op1('Sub', [this, this.graph.lift(other, this)]);
  }
  mul(other: Value | number): Value {
    return this.graph.op1('Mul', [this, this.graph.lift(other, this)]);
  }
  div(other: Value | number): Value {
    return this.graph.op1('Div', [this, this.graph.lift(other, this)]);
  }
  pow(exponent: number): Value {
    return this.graph.op1('Pow', [this, this.graph.lift(exponent, this)]);
  }
  equal(other: Value): Value {
    return this.graph.op1('Equal', [this, other]);
  }
  neg(): Value {
    return this.graph.op1('Neg', [this]);
  }
  exp(): Value {
    return this.graph.op1('Exp', [this]);
  }
  log(): Value {
    return this.graph.op1('Log', [this]);
  }
  sqrt(): Value {
    return this.graph.op1('Sqrt', [this]);
  }
  sigmoid(): Value {
    return this.graph.op1('Sigmoid', [this]);
  }
  relu(): Value {
    return this.graph.op1('Relu', [this]);
  }
  erf(): Value {
    return this.graph.op1('Erf', [this]);
  }
  cast(dtype: DType): Value {
    return this.graph.op1('Cast', [this], { to: dtype });
  }

  // Reductions over the given axes, keeping them as size 1 unless keepDims is false.
  sum(axes: number[], keepDims = true): Value {
    return this.graph.op1('ReduceSum', [this], { axes, keepDims });
  }
  mean(axes: number[], keepDims = true): Value {
    return this.graph.op1('ReduceMean', [this], { axes, keepDims });
  }
  max(axes: number[], keepDims = true): Value {
    return this.graph.op1('ReduceMax', [this], { axes, keepDims });
  }
  argmax(axis: number, keepDims = false): Value {
    return this.graph.op1('ArgMax', [this], { axis, keepDims });
  }
  softmax(axis = -1): Value {
    return this.graph.op1('Softmax', [this], { axis });
  }

  /** Batched matrix product with broadcasting of the leading dims (numpy matmul). */
  matmul(other: Value): Value {
    return this.graph.op1('MatMul', [this, other]);
  }

  // Layout.
  reshape(shape: Shape): Value {
    return this.graph.op1('Reshape', [this], { shape });
  }
  transpose(perm: number[]): Value {
    return this.graph.op1('Transpose', [this], { perm });
  }
  /** Elements start..end (exclusive) along one axis. */
  slice(axis: number, start: number, end: number): Value {
    return this.graph.op1('Slice', [this], { axis, start, end });
  }
  /** The first `ref.shape[refAxis]` elements along `axis` (a run-time length when that dim is symbolic). */
  sliceAs(axis: number, ref: Value, refAxis: number): Value {
    return this.graph.op1('SliceAs', [this, ref], { axis, refAxis });
  }
  /** Rows of this table picked by integer indices (an embedding lookup along `axis`). */
  gather(indices: Value, axis = 0): Value {
    return this.graph.op1('Gather', [this, indices], { axis });
  }
  /** For x [N, L, ...] and indices [N], x[n, indices[n]] → [N, ...] (pooling at one position). */
  pickPerRow(indices: Value): Value {
    return this.graph.op1('PickPerRow', [this, indices]);
  }
  expand(shape: Shape): Value {
    return this.graph.op1('Expand', [this], { shape });
  }
  /** Broadcast to `ref`'s shape, whose dims may be symbolic (read at run time). */
  expandAs(ref: Value): Value {
    return this.graph.op1('ExpandAs', [this, ref]);
  }

  // Images, NCHW.
  conv2d(weight: Value, opts: { stride?: number; padding?: number; bias?: Value } = {}): Value {
    const inputs = opts.bias ? [this, weight, opts.bias] : [this, weight];
    return this.graph.op1('Conv', inputs, { stride: opts.stride ?? 1, padding: opts.padding ?? 0 });
  }
  avgPool2d(kernel: number): Value {
    return this.graph.op1('AveragePool', [this], { kernel });
  }
}

/** Concatenation along an axis. */
export function concat(values: Value[], axis: number): Value {
  return first(values).graph.op1('Concat', values, { axis });
}

/** One call of a submodule: its input and its output. */
export interface ModuleCall {
  readonly input: Value;
  readonly output: Value;
}

export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs: { name: string; value: Value }[] = [];
  readonly outputs: { name: string; value: Value }[] = [];
  /** Parameters and constants, by value id. */
  readonly initializers = new Map<number, Initializer>();
  /**
   * Every call of a submodule (Params.module), by its path (`visual.ln_pre`): what a PyTorch
   * forward hook on that module would see, for parity checks and debugging.
   */
  readonly moduleCalls = new Map<string, ModuleCall[]>();
  private nextId = 0;
  private constantCount = 0;

  input(name: string, dtype: DType, shape: Shape): Value {
    const v = new Value(this, this.nextId++, dtype, shape);
    this.inputs.push({ name, value: v });
    return v;
  }

  /**
   * A named weight; `name` is its state-dict name, so errors and dumps point at the checkpoint.
   * `data` may be a function that makes the values each time they are needed (see Initializer).
   */
  param(name: string, data: ConstData | Initializer['data'], shape: Shape, dtype: DType = 'float32'): Value {
    const v = new Value(this, this.nextId++, dtype, shape);
    const values =
      typeof data === 'function'
        ? data
        : (_?: Float32Array, range?: ElementRange) => (range ? (data.subarray(...range) as ConstData) : data);
    this.initializers.set(v.id, { name, value: v, data: values });
    return v;
  }

  constant(data: ConstData, shape: Shape): Value {
    const dtype: DType =
      data instanceof Float32Array
        ? 'float32'
        : data instanceof Int32Array
          ? 'int32'
          : data instanceof BigInt64Array
            ? 'int64'
            : 'uint8';
    return this.param(`const_${this.constantCount++}`, data, shape, dtype);
  }

  /** A JS number as a scalar constant of `like`'s dtype; Values pass through. */
  lift(x: Value | number, like: Value): Value {
    if (typeof x !== 'number') return x;
    return this.constant(like.dtype === 'int32' ? Int32Array.of(x) : Float32Array.of(x), []);
  }

  /** The initializer behind `v`; throws if `v` is not a parameter or constant. */
  initializer(v: Value): Initializer {
    const init = this.initializers.get(v.id);
    if (!init) throw new GraphError(`value ${v.id} ${formatShape(v.shape)} is not a parameter or constant`);
    return init;
  }

  /** A value for a node that a rewrite places in `nodes` itself (quantize-conv.ts); no producer link. */
  detachedValue(dtype: DType, shape: Shape): Value {
    return new Value(this, this.nextId++, dtype, shape);
  }

  output(name: string, value: Value): void {
    this.outputs.push({ name, value });
  }

  /** Records one call of the submodule at `path` (see moduleCalls). */
  recordCall(path: string, call: ModuleCall): void {
    const calls = this.moduleCalls.get(path);
    if (calls) calls.push(call);
    else this.moduleCalls.set(path, [call]);
  }

  /** Adds a node of a single-output op and returns that output. */
  op1(op: OpName, inputs: Value[], attrs: Attrs = {}): Value {
    const [output] = this.op(op, inputs, attrs);
    if (!output) throw new GraphError(`${op} has no output`);
    return output;
  }

  /** Adds a node after checking its inputs and inferring its outputs' dtype and shape. */
  op(op: OpName, inputs: Value[], attrs: Attrs = {}): Value[] {
    for (const x of inputs) {
      if (x.graph !== this) throw new GraphError(`${op}: an input belongs to another graph`);
    }
    let types: OutputType[];
    try {
      types = PRIMITIVES[op].infer(inputs, attrs);
    } catch (e) {
      if (e instanceof GraphError) {
        const shapes = inputs.map((x) => `${x.dtype}${formatShape(x.shape)}`).join(', ');
        throw new GraphError(
          `${op}(${shapes}${Object.keys(attrs).length ? `; ${JSON.stringify(attrs)}` : ''}): ${e.message}`,
        );
      }
      throw e;
    }
    const node: Node = { op, inputs, attrs, outputs: [] };
    for (const t of types) node.outputs.push(new Value(this, this.nextId++, t.dtype, t.shape, node));
    this.nodes.push(node);
    return node.outputs;
  }
}

/**
 * The nodes that contribute to an output, and their values: serialisation and rewrites skip the
 * rest (module calls not exposed, branches built only for parity checks, weights rewritten away).
 */
export function liveNodes(graph: Graph): { nodes: Graph['nodes']; values: Set<number> } {
  const producer = new Map<number, Node>();
  for (const node of graph.nodes) for (const out of node.outputs) producer.set(out.id, node);
  const live = new Set<number>(graph.outputs.map((o) => o.value.id));
  const pending = [...live];
  const liveNodeSet = new Set<Node>();
  for (let id = pending.pop(); id !== undefined; id = pending.pop()) {
    const node = producer.get(id);
    if (!node || liveNodeSet.has(node)) continue;
    liveNodeSet.add(node);
    for (const v of node.inputs)
      if (!live.has(v.id)) {
        live.add(v.id);
        pending.push(v.id);
      }
  }
  return { nodes: graph.nodes.filter((n) => liveNodeSet.has(n)), values: live };
}
