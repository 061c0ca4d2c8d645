// The primitive ops of the IR. Each has a shape/dtype rule (checked when a node is built) and
// its ONNX emission. Everything else (linear, layerNorm, attention, ...) is composed from these
// in nn.ts, so a new backend or the autodiff (vjp.ts) only needs this list.

import { at } from '../checked.js';
import { GraphError } from '../errors.js';
import type { DType } from '../tensor.js';
import type { Dim, Shape, Value } from './ir.js';

export type AttrValue = number | boolean | string | readonly number[] | readonly Dim[];
export type Attrs = Record<string, AttrValue>;

export interface OutputType {
  dtype: DType;
  shape: Shape;
}

/** What an op's ONNX emission can ask of the serialiser. */
export interface EmitContext {
  /** The ONNX name of an IR value. */
  name(v: Value): string;
  /** An int64 constant initializer; returns its name. */
  int64(values: readonly number[]): string;
  /** Appends an ONNX node. Attribute values: number (int unless `floats` lists it), number[] (ints), string. */
  node(
    opType: string,
    inputs: string[],
    outputs: string[],
    attrs?: Record<string, number | number[] | string>,
    domain?: string,
  ): void;
  /** A fresh intermediate name. */
  temp(hint: string): string;
}

interface Primitive {
  infer(inputs: readonly Value[], attrs: Attrs): OutputType[];
  emit(ctx: EmitContext, inputs: readonly Value[], outputs: readonly Value[], attrs: Attrs): void;
}

const fail = (message: string): never => {
  throw new GraphError(message);
};

/** How many inputs an op takes. */
export type Arity = 1 | 2 | 3 | 'variadic';

/** An op's inputs as a tuple of its arity. */
export type Inputs<N extends Arity> = N extends 1
  ? [Value]
  : N extends 2
    ? [Value, Value]
    : N extends 3
      ? [Value, Value, Value]
      : readonly Value[];

/** `inputs` as a tuple of the arity (one of the arities) given; fails if their count differs. */
export function withArity<N extends Arity>(arity: N | readonly N[], inputs: readonly Value[]): Inputs<N> {
  const arities: readonly Arity[] = Array.isArray(arity) ? arity : [arity];
  const ok = arities.includes('variadic') ? inputs.length > 0 : arities.some((n) => n === inputs.length);
  if (!ok) fail(`expects ${arities.join(' or ')} inputs, got ${inputs.length}`);
  return inputs as Inputs<N>;
}

/** An op of one output and the given input count(s) (`variadic`: any count ≥ 1). */
interface OpRule<N extends Arity> {
  infer(inputs: Inputs<N>, attrs: Attrs): OutputType[];
  emit(ctx: EmitContext, inputs: Inputs<N>, output: Value, attrs: Attrs): void;
}

/**
 * A primitive whose rules see their inputs as a tuple of the op's arity and its one output: the
 * counts are checked here once (a node built or rewritten with the wrong count fails by name).
 */
function primitive<N extends Arity>(arity: N | readonly N[], rule: OpRule<N>): Primitive {
  const checked = (inputs: readonly Value[]) => withArity(arity, inputs);
  return {
    infer: (inputs, attrs) => rule.infer(checked(inputs), attrs),
    emit: (ctx, inputs, outputs, attrs) => {
      const [output] = outputs;
      if (!output || outputs.length !== 1) return fail(`expects one output, got ${outputs.length}`);
      rule.emit(ctx, checked(inputs), output, attrs);
    },
  };
}

/** A two-number attribute ([height, width]). */
function pairAttr(attrs: Attrs, name: string): [number, number] {
  const value = attrs[name];
  const [a, b, ...rest] = Array.isArray(value) ? value : [];
  if (typeof a !== 'number' || typeof b !== 'number' || rest.length)
    return fail(`attribute ${name} must be two numbers, got ${JSON.stringify(value)}`);
  return [a, b];
}

function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) fail(`axis ${axis} is out of range for rank ${rank}`);
  return a;
}

function sameDim(a: Dim, b: Dim): boolean {
  return a === b;
}

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** numpy broadcasting; symbolic dims broadcast only with themselves or 1. */
export function broadcastShapes(a: Shape, b: Shape): Shape {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x === 1) out.push(y);
    else if (y === 1 || sameDim(x, y)) out.push(x);
    else fail(`shapes do not broadcast: dimension ${i} is ${x} vs ${y}`);
  }
  return out;
}

function sameDtype(inputs: readonly Value[]): DType {
  const dtype = inputs[0]?.dtype ?? fail('no inputs');
  for (const x of inputs) if (x.dtype !== dtype) fail(`dtypes differ: ${inputs.map((v) => v.dtype).join(' vs ')}`);
  return dtype;
}

function simple(opType: string): OpRule<'variadic'>['emit'] {
  return (ctx, inputs, output) => ctx.node(opType, inputs.map(ctx.name), [ctx.name(output)]);
}

const elementwise = (opType: string): Primitive =>
  primitive(2, {
    infer: ([a, b]) => [{ dtype: sameDtype([a, b]), shape: broadcastShapes(a.shape, b.shape) }],
    emit: simple(opType),
  });

const unary = (opType: string): Primitive =>
  primitive(1, {
    infer: ([x]) => [{ dtype: x.dtype, shape: x.shape }],
    emit: simple(opType),
  });

function reduced(x: Value, attrs: Attrs): Shape {
  const axes = (attrs.axes as number[]).map((a) => normAxis(a, x.rank));
  return x.shape.flatMap((d, i) => (axes.includes(i) ? (attrs.keepDims ? [1] : []) : [d]));
}

/**
 * Float32 sums and means over at least this many elements accumulate in float64 (a Cast either
 * side), as PyTorch's CPU reductions do. In ONNX Runtime's float32 ones, train-mode BatchNorm's
 * batch statistics over N·H·W (32768 elements for a 64×64 stem at batch 8) left a ResNet's stem
 * gradients ~3e-3 of each tensor's max away from a float64 computation of the step, ~5e-6 with
 * this (bench/resnet-grads.ts against PyTorch in float64, on photos). The narrower reductions of
 * inference graphs (LayerNorm over the width) are left as they are.
 */
export const WIDE_REDUCTION = 4096;

/** Elements each output of a reduction sums over, or 0 when a reduced dimension is symbolic. */
function reducedCount(x: Value, axes: readonly number[]): number {
  return axes.reduce((n, a) => n * (typeof x.shape[a] === 'number' ? x.shape[a] : 0), 1);
}

const reduction = (opType: string): Primitive =>
  primitive(1, {
    infer: ([x], attrs) => [{ dtype: x.dtype, shape: reduced(x, attrs) }],
    // Opset 17: ReduceSum takes axes as an input, ReduceMean/ReduceMax as an attribute.
    emit: (ctx, [x], y, attrs) => {
      const axes = (attrs.axes as number[]).map((a) => normAxis(a, x.rank));
      const keepdims = attrs.keepDims ? 1 : 0;
      const wide = opType !== 'ReduceMax' && x.dtype === 'float32' && reducedCount(x, axes) >= WIDE_REDUCTION;
      const [input, output] = wide ? [ctx.temp('wide_in'), ctx.temp('wide_out')] : [ctx.name(x), ctx.name(y)];
      if (wide) ctx.node('Cast', [ctx.name(x)], [input], { to: onnxDtype('float64') });
      if (opType === 'ReduceSum') ctx.node(opType, [input, ctx.int64(axes)], [output], { keepdims });
      else ctx.node(opType, [input], [output], { axes, keepdims });
      if (wide) ctx.node('Cast', [output], [ctx.name(y)], { to: onnxDtype('float32') });
    },
  });

const ONNX_DTYPE: Partial<Record<DType, number>> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  bfloat16: 16,
};
export function onnxDtype(dtype: DType): number {
  return ONNX_DTYPE[dtype] ?? fail(`dtype ${dtype} has no ONNX equivalent`);
}

/** Reshape target: numbers, or symbols that must sit where the input has the same symbol. */
function reshapeTarget(x: Value, shape: Shape): number[] {
  const fixedIn = x.shape.every((d) => typeof d === 'number');
  const target = shape.map((d, i) => {
    if (typeof d === 'number') return d;
    if (x.shape[i] === d) return 0; // ONNX: copy this dim from the input
    if (fixedIn) fail(`symbolic dim ${d} in the target shape but not in the input`);
    return -1;
  });
  // ONNX infers at most one dim (-1); symbols elsewhere must stay where the input has them.
  if (target.filter((d) => d === -1).length > 1)
    fail(`cannot reshape ${JSON.stringify(x.shape)} to ${JSON.stringify(shape)}: more than one symbolic dim moves`);
  return target;
}

function checkReshape(x: Value, shape: Shape): void {
  // One new symbol may stand for input dims merged into it (["batch", "seq", 8] → ["batch*seq", 8]),
  // emitted as -1, provided some input symbol is merged away.
  const added = shape.filter((d) => typeof d === 'string' && !x.shape.includes(d));
  const dropped = x.shape.filter((d) => typeof d === 'string' && !shape.includes(d));
  if (added.length > 1 || (added.length === 1 && dropped.length === 0)) {
    fail(`target ${JSON.stringify(shape)} introduces a symbolic dim the input does not have`);
  }
  const fixedOut = shape.filter((d): d is number => typeof d === 'number').reduce((a, b) => a * b, 1);
  const fixedIn = x.shape.filter((d): d is number => typeof d === 'number').reduce((a, b) => a * b, 1);
  const symsIn = x.shape
    .filter((d) => typeof d === 'string')
    .sort()
    .join(',');
  const symsOut = shape
    .filter((d) => typeof d === 'string')
    .sort()
    .join(',');
  if (symsIn === symsOut && fixedIn !== fixedOut) fail(`cannot reshape ${fixedIn} elements into ${fixedOut}`);
}

export const PRIMITIVES = {
  Add: elementwise('Add'),
  Sub: elementwise('Sub'),
  Mul: elementwise('Mul'),
  Div: elementwise('Div'),
  Pow: elementwise('Pow'),
  Equal: primitive(2, {
    infer: ([a, b]) => {
      sameDtype([a, b]);
      return [{ dtype: 'bool', shape: broadcastShapes(a.shape, b.shape) }];
    },
    emit: simple('Equal'),
  }),
  Neg: unary('Neg'),
  Exp: unary('Exp'),
  Log: unary('Log'),
  Sqrt: unary('Sqrt'),
  Sigmoid: unary('Sigmoid'),
  Relu: unary('Relu'),
  Erf: unary('Erf'),
  Cast: primitive(1, {
    infer: ([x], attrs) => [{ dtype: attrs.to as DType, shape: x.shape }],
    emit: (ctx, [x], y, attrs) => ctx.node('Cast', [ctx.name(x)], [ctx.name(y)], { to: onnxDtype(attrs.to as DType) }),
  }),
  ReduceSum: reduction('ReduceSum'),
  ReduceMean: reduction('ReduceMean'),
  ReduceMax: reduction('ReduceMax'),
  ArgMax: primitive(1, {
    infer: ([x], attrs) => [
      { dtype: 'int64', shape: reduced(x, { axes: [attrs.axis as number], keepDims: attrs.keepDims as boolean }) },
    ],
    emit: (ctx, [x], y, attrs) =>
      ctx.node('ArgMax', [ctx.name(x)], [ctx.name(y)], {
        axis: normAxis(attrs.axis as number, x.rank),
        keepdims: attrs.keepDims ? 1 : 0,
        select_last_index: 0,
      }),
  }),
  Softmax: primitive(1, {
    infer: ([x], attrs) => {
      normAxis(attrs.axis as number, x.rank);
      return [{ dtype: x.dtype, shape: x.shape }];
    },
    emit: (ctx, [x], y, attrs) =>
      ctx.node('Softmax', [ctx.name(x)], [ctx.name(y)], { axis: normAxis(attrs.axis as number, x.rank) }),
  }),
  MatMul: primitive(2, {
    infer: ([a, b]) => {
      const dtype = sameDtype([a, b]);
      if (a.rank < 2 || b.rank < 2) fail('both operands need rank ≥ 2');
      const k1 = at(a.shape, a.rank - 1);
      const k2 = at(b.shape, b.rank - 2);
      if (!sameDim(k1, k2)) fail(`inner dimensions differ: ${k1} vs ${k2}`);
      const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
      return [{ dtype, shape: [...batch, at(a.shape, a.rank - 2), at(b.shape, b.rank - 1)] }];
    },
    emit: simple('MatMul'),
  }),
  Reshape: primitive(1, {
    infer: ([x], attrs) => {
      checkReshape(x, attrs.shape as Shape);
      reshapeTarget(x, attrs.shape as Shape); // fails now, at build time, if ONNX could not express it
      return [{ dtype: x.dtype, shape: attrs.shape as Shape }];
    },
    emit: (ctx, [x], y, attrs) =>
      ctx.node('Reshape', [ctx.name(x), ctx.int64(reshapeTarget(x, attrs.shape as Shape))], [ctx.name(y)]),
  }),
  Transpose: primitive(1, {
    infer: ([x], attrs) => {
      const perm = attrs.perm as number[];
      if (perm.length !== x.rank || [...perm].sort().some((p, i) => p !== i))
        fail(`perm ${JSON.stringify(perm)} is not a permutation of ${x.rank} axes`);
      return [{ dtype: x.dtype, shape: perm.map((p) => at(x.shape, p)) }];
    },
    emit: (ctx, [x], y, attrs) => ctx.node('Transpose', [ctx.name(x)], [ctx.name(y)], { perm: attrs.perm as number[] }),
  }),
  Slice: primitive(1, {
    infer: ([x], attrs) => {
      const axis = normAxis(attrs.axis as number, x.rank);
      const start = attrs.start as number;
      const end = attrs.end as number;
      const d = at(x.shape, axis);
      if (start < 0 || end <= start || (typeof d === 'number' && end > d))
        fail(`slice ${start}:${end} is out of range for dimension ${d}`);
      return [{ dtype: x.dtype, shape: x.shape.map((s, i) => (i === axis ? end - start : s)) }];
    },
    emit: (ctx, [x], y, attrs) =>
      ctx.node(
        'Slice',
        [
          ctx.name(x),
          ctx.int64([attrs.start as number]),
          ctx.int64([attrs.end as number]),
          ctx.int64([normAxis(attrs.axis as number, x.rank)]),
        ],
        [ctx.name(y)],
      ),
  }),
  SliceAs: primitive(2, {
    // x[..., :len, ...] along `axis`, where len is dimension `refAxis` of `ref` (e.g. a
    // positional table cut to the sequence length of a batch whose length is only known at run time).
    infer: ([x, ref], attrs) => {
      const axis = normAxis(attrs.axis as number, x.rank);
      const len = at(ref.shape, normAxis(attrs.refAxis as number, ref.rank));
      const d = at(x.shape, axis);
      if (typeof len === 'number' && typeof d === 'number' && len > d) fail(`cannot take ${len} of ${d} elements`);
      return [{ dtype: x.dtype, shape: x.shape.map((s, i) => (i === axis ? len : s)) }];
    },
    emit: (ctx, [x, ref], y, attrs) => {
      const shape = ctx.temp('ref_shape');
      const end = ctx.temp('ref_len');
      ctx.node('Shape', [ctx.name(ref)], [shape]);
      ctx.node('Gather', [shape, ctx.int64([normAxis(attrs.refAxis as number, ref.rank)])], [end]);
      ctx.node(
        'Slice',
        [ctx.name(x), ctx.int64([0]), end, ctx.int64([normAxis(attrs.axis as number, x.rank)])],
        [ctx.name(y)],
      );
    },
  }),
  Concat: primitive('variadic', {
    infer: (inputs, attrs) => {
      const dtype = sameDtype(inputs);
      const first = at(inputs, 0);
      const axis = normAxis(attrs.axis as number, first.rank);
      let total: Dim = 0;
      for (const x of inputs) {
        if (x.rank !== first.rank) fail('ranks differ');
        x.shape.forEach((d, i) => {
          if (i !== axis && !sameDim(d, at(first.shape, i))) fail(`dimension ${i} differs: ${d} vs ${first.shape[i]}`);
        });
        const d = at(x.shape, axis);
        total =
          typeof d === 'number' && typeof total === 'number'
            ? total + d
            : fail('cannot concatenate along a symbolic dimension');
      }
      return [{ dtype, shape: first.shape.map((d, i) => (i === axis ? total : d)) }];
    },
    emit: (ctx, inputs, y, attrs) =>
      ctx.node('Concat', inputs.map(ctx.name), [ctx.name(y)], {
        axis: normAxis(attrs.axis as number, at(inputs, 0).rank),
      }),
  }),
  Gather: primitive(2, {
    infer: ([table, indices], attrs) => {
      if (!['int32', 'int64'].includes(indices.dtype)) fail(`indices must be int32 or int64, got ${indices.dtype}`);
      const axis = normAxis(attrs.axis as number, table.rank);
      return [
        {
          dtype: table.dtype,
          shape: [...table.shape.slice(0, axis), ...indices.shape, ...table.shape.slice(axis + 1)],
        },
      ];
    },
    emit: (ctx, [t, i], y, attrs) =>
      ctx.node('Gather', [ctx.name(t), ctx.name(i)], [ctx.name(y)], {
        axis: normAxis(attrs.axis as number, t.rank),
      }),
  }),
  PickPerRow: primitive(2, {
    infer: ([x, indices]) => {
      if (indices.rank !== 1 || !sameDim(at(indices.shape, 0), at(x.shape, 0)))
        fail('indices must be [N] for x [N, L, ...]');
      if (indices.dtype !== 'int64') fail(`indices must be int64, got ${indices.dtype}`);
      return [{ dtype: x.dtype, shape: [at(x.shape, 0), ...x.shape.slice(2)] }];
    },
    // GatherND with batch_dims=1 picks x[n, idx[n, 0]].
    emit: (ctx, [x, i], y) => {
      const idx = ctx.temp('pick_idx');
      ctx.node('Unsqueeze', [ctx.name(i), ctx.int64([1])], [idx]);
      ctx.node('GatherND', [ctx.name(x), idx], [ctx.name(y)], { batch_dims: 1 });
    },
  }),
  Expand: primitive(1, {
    infer: ([x], attrs) => [{ dtype: x.dtype, shape: broadcastShapes(x.shape, attrs.shape as Shape) }],
    emit: (ctx, [x], y, attrs) => {
      const target = (attrs.shape as Shape).map((d) => (typeof d === 'number' ? d : 1));
      if ((attrs.shape as Shape).some((d) => typeof d === 'string'))
        fail('Expand to a symbolic shape is not supported');
      ctx.node('Expand', [ctx.name(x), ctx.int64(target)], [ctx.name(y)]);
    },
  }),
  Conv: primitive([2, 3], {
    infer: ([x, w, b], attrs) => {
      const dtype = sameDtype(b ? [x, w, b] : [x, w]);
      if (x.rank !== 4 || w.rank !== 4) fail('Conv expects x [N, C, H, W] and weight [O, C, kH, kW]');
      if (!sameDim(at(x.shape, 1), at(w.shape, 1)))
        fail(`input has ${x.shape[1]} channels, weight expects ${w.shape[1]}`);
      const stride = attrs.stride as number;
      const pad = attrs.padding as number;
      const out = (d: Dim, k: number): number => Math.floor(((d as number) + 2 * pad - k) / stride) + 1;
      return [
        {
          dtype,
          shape: [at(x.shape, 0), at(w.shape, 0), out(at(x.shape, 2), w.dim(2)), out(at(x.shape, 3), w.dim(3))],
        },
      ];
    },
    emit: (ctx, inputs, y, attrs) => {
      const s = attrs.stride as number;
      const p = attrs.padding as number;
      // Explicit default dilations: onnxruntime-web's WebGPU Conv refuses a node without them.
      ctx.node('Conv', inputs.map(ctx.name), [ctx.name(y)], {
        dilations: [1, 1],
        strides: [s, s],
        pads: [p, p, p, p],
      });
    },
  }),
  AveragePool: primitive(1, {
    infer: ([x], attrs) => {
      const k = attrs.kernel as number;
      if (x.rank !== 4) fail('AveragePool expects [N, C, H, W]');
      return [
        { dtype: x.dtype, shape: [at(x.shape, 0), at(x.shape, 1), Math.floor(x.dim(2) / k), Math.floor(x.dim(3) / k)] },
      ];
    },
    emit: (ctx, [x], y, attrs) => {
      const k = attrs.kernel as number;
      ctx.node('AveragePool', [ctx.name(x)], [ctx.name(y)], { kernel_shape: [k, k], strides: [k, k] });
    },
  }),
  // ---- Appended for training (graph/grad.ts, graph/vjp.ts): the backward passes' primitives. ----
  Greater: primitive(2, {
    infer: ([a, b]) => {
      sameDtype([a, b]);
      return [{ dtype: 'bool', shape: broadcastShapes(a.shape, b.shape) }];
    },
    emit: simple('Greater'),
  }),
  LogSoftmax: primitive(1, {
    infer: ([x], attrs) => {
      normAxis(attrs.axis as number, x.rank);
      return [{ dtype: x.dtype, shape: x.shape }];
    },
    emit: (ctx, [x], y, attrs) =>
      ctx.node('LogSoftmax', [ctx.name(x)], [ctx.name(y)], { axis: normAxis(attrs.axis as number, x.rank) }),
  }),
  ExpandAs: primitive(2, {
    // x broadcast to ref's shape (ref's dims may be symbolic: the target is read at run time).
    infer: ([x, ref]) => {
      const shape = broadcastShapes(x.shape, ref.shape);
      if (shape.length !== ref.rank || shape.some((d, i) => d !== ref.shape[i]))
        fail(`cannot expand ${JSON.stringify(x.shape)} to ${JSON.stringify(ref.shape)}`);
      return [{ dtype: x.dtype, shape: ref.shape }];
    },
    emit: (ctx, [x, ref], y) => {
      const shape = ctx.temp('expand_shape');
      ctx.node('Shape', [ctx.name(ref)], [shape]);
      ctx.node('Expand', [ctx.name(x), shape], [ctx.name(y)]);
    },
  }),
  Pad: primitive(1, {
    // Zeros: `before` elements in front of and `after` behind `axis`.
    infer: ([x], attrs) => {
      const axis = normAxis(attrs.axis as number, x.rank);
      const d = at(x.shape, axis);
      if (typeof d !== 'number') return fail('cannot pad a symbolic dimension');
      return [
        {
          dtype: x.dtype,
          shape: x.shape.map((s, i) => (i === axis ? d + (attrs.before as number) + (attrs.after as number) : s)),
        },
      ];
    },
    emit: (ctx, [x], y, attrs) => {
      const rank = x.rank;
      const pads = new Array<number>(2 * rank).fill(0);
      const axis = normAxis(attrs.axis as number, rank);
      pads[axis] = attrs.before as number;
      pads[rank + axis] = attrs.after as number;
      ctx.node('Pad', [ctx.name(x), ctx.int64(pads)], [ctx.name(y)]);
    },
  }),
  ScatterAddRows: primitive(3, {
    // zeros shaped like `table` [V, ...], then updates[i...] added to row indices[i...] (repeats add up).
    infer: ([table, indices, updates]) => {
      if (!['int32', 'int64'].includes(indices.dtype)) fail(`indices must be int32 or int64, got ${indices.dtype}`);
      const expected = [...indices.shape, ...table.shape.slice(1)];
      if (!sameShape(updates.shape, expected)) fail(`updates must be ${JSON.stringify(expected)}`);
      return [{ dtype: updates.dtype, shape: table.shape }];
    },
    emit: (ctx, [table, indices, updates], y) => {
      const [shape, zeros, idx64, idx] = ['scatter_shape', 'scatter_zeros', 'scatter_idx64', 'scatter_idx'].map(
        ctx.temp,
      ) as [string, string, string, string];
      ctx.node('Shape', [ctx.name(table)], [shape]);
      ctx.node('ConstantOfShape', [shape], [zeros]);
      ctx.node('Cast', [ctx.name(indices)], [idx64], { to: onnxDtype('int64') });
      ctx.node('Unsqueeze', [idx64, ctx.int64([-1])], [idx]);
      ctx.node('ScatterND', [zeros, idx, ctx.name(updates)], [ctx.name(y)], { reduction: 'add' });
    },
  }),
  ConvInputGrad: primitive(2, {
    // d(conv)/d(input) for Conv(stride, padding): a transposed convolution of the output gradient
    // g [N, O, Ho, Wo] with the same weight [O, C, kH, kW], sized back to the input's [H, W].
    infer: ([g, w], attrs) => {
      const [h, wd] = pairAttr(attrs, 'inputSize');
      return [{ dtype: sameDtype([g, w]), shape: [at(g.shape, 0), at(w.shape, 1), h, wd] }];
    },
    emit: (ctx, [g, w], y, attrs) => {
      const s = attrs.stride as number;
      const p = attrs.padding as number;
      const [h, wd] = pairAttr(attrs, 'inputSize');
      const extra = (size: number, outSize: number, k: number) => size - (s * (outSize - 1) + k - 2 * p);
      const op = [extra(h, g.dim(2), w.dim(2)), extra(wd, g.dim(3), w.dim(3))];
      ctx.node('ConvTranspose', [ctx.name(g), ctx.name(w)], [ctx.name(y)], {
        strides: [s, s],
        pads: [p, p, p, p],
        output_padding: op,
      });
    },
  }),
  ConvWeightGrad: primitive(2, {
    // d(conv)/d(weight) for Conv(stride, padding): correlate the input x [N, C, H, W] with the
    // output gradient g [N, O, Ho, Wo] over the batch (batch as channels, dilation = stride),
    // then keep the first kH × kW taps: dW[o, c, i, j] = Σ g[n, o, y, x] · x[n, c, s·y + i - p, s·x + j - p].
    infer: ([x, g], attrs) => {
      const [kh, kw] = pairAttr(attrs, 'kernel');
      return [{ dtype: sameDtype([x, g]), shape: [at(g.shape, 1), at(x.shape, 1), kh, kw] }];
    },
    emit: (ctx, [x, g], y, attrs) => {
      const s = attrs.stride as number;
      const p = attrs.padding as number;
      const [kh, kw] = pairAttr(attrs, 'kernel');
      const [xt, gt, full, cut] = ['cwg_x', 'cwg_g', 'cwg_full', 'cwg_cut'].map(ctx.temp) as [
        string,
        string,
        string,
        string,
      ];
      ctx.node('Transpose', [ctx.name(x)], [xt], { perm: [1, 0, 2, 3] });
      ctx.node('Transpose', [ctx.name(g)], [gt], { perm: [1, 0, 2, 3] });
      ctx.node('Conv', [xt, gt], [full], { dilations: [s, s], pads: [p, p, p, p], strides: [1, 1] });
      ctx.node('Slice', [full, ctx.int64([0, 0]), ctx.int64([kh, kw]), ctx.int64([2, 3])], [cut]);
      ctx.node('Transpose', [cut], [ctx.name(y)], { perm: [1, 0, 2, 3] });
    },
  }),
  PadAs: primitive(2, {
    // x with zeros appended along `axis` up to ref's size there (the inverse of SliceAs; sizes
    // may be symbolic, the amount is read at run time).
    infer: ([x, ref], attrs) => {
      const axis = normAxis(attrs.axis as number, x.rank);
      if (ref.rank !== x.rank) fail(`ref must have x's rank ${x.rank}, got ${ref.rank}`);
      return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (i === axis ? at(ref.shape, i) : d)) }];
    },
    emit: (ctx, [x, ref], y, attrs) => {
      const rank = x.rank;
      const axis = normAxis(attrs.axis as number, rank);
      const [want, have, extra, pads] = ['pad_want', 'pad_have', 'pad_extra', 'pads'].map(ctx.temp) as [
        string,
        string,
        string,
        string,
      ];
      ctx.node('Shape', [ctx.name(ref)], [want], { start: axis, end: axis + 1 });
      ctx.node('Shape', [ctx.name(x)], [have], { start: axis, end: axis + 1 });
      ctx.node('Sub', [want, have], [extra]);
      // pads = [begin of each axis..., end of each axis...]: only the end of `axis` is non-zero.
      ctx.node(
        'Concat',
        [
          ctx.int64(new Array<number>(rank + axis).fill(0)),
          extra,
          ...(axis < rank - 1 ? [ctx.int64(new Array<number>(rank - axis - 1).fill(0))] : []),
        ],
        [pads],
        { axis: 0 },
      );
      ctx.node('Pad', [ctx.name(x), pads], [ctx.name(y)]);
    },
  }),
  ScatterPerRow: primitive(3, {
    // base [N, L, ...] with row n's position indices[n] replaced by updates[n] (the inverse of PickPerRow).
    infer: ([base, indices, updates]) => {
      if (indices.dtype !== 'int64' || indices.rank !== 1 || !sameDim(at(indices.shape, 0), at(base.shape, 0)))
        fail('indices must be int64 [N] for base [N, L, ...]');
      const expected = [at(base.shape, 0), ...base.shape.slice(2)];
      if (!sameShape(updates.shape, expected)) fail(`updates must be ${JSON.stringify(expected)}`);
      return [{ dtype: sameDtype([base, updates]), shape: base.shape }];
    },
    // ScatterElements along axis 1 with indices[n] repeated over the trailing dims.
    emit: (ctx, [base, indices, updates], y) => {
      const rank = base.rank;
      const [idx, upd, shape, idxFull] = ['row_idx', 'row_upd', 'row_shape', 'row_idx_full'].map(ctx.temp) as [
        string,
        string,
        string,
        string,
      ];
      ctx.node('Unsqueeze', [ctx.name(indices), ctx.int64([...Array(rank - 1).keys()].map((i) => i + 1))], [idx]);
      ctx.node('Unsqueeze', [ctx.name(updates), ctx.int64([1])], [upd]);
      ctx.node('Shape', [upd], [shape]);
      ctx.node('Expand', [idx, shape], [idxFull]);
      ctx.node('ScatterElements', [ctx.name(base), idxFull, upd], [ctx.name(y)], { axis: 1 });
    },
  }),
  // ---- Inference-only fusions (no vector-Jacobian rule): produced by rewrites such as quantize.ts. ----
  DynamicQuantizeMatMul: primitive(3, {
    // x float [..., K] @ int8 weights [K, N] with per-column scales [N]: ONNX Runtime quantizes x
    // to uint8 on the fly and runs an integer GEMM (com.microsoft contrib op).
    infer: ([x, w, scale]) => {
      if (x.dtype !== 'float32' || w.dtype !== 'int8' || scale.dtype !== 'float32')
        fail('expects float32 x, int8 weights, float32 scales');
      if (w.rank !== 2 || !sameDim(at(x.shape, x.rank - 1), at(w.shape, 0)))
        fail(`weights ${JSON.stringify(w.shape)} do not match x ${JSON.stringify(x.shape)}`);
      return [{ dtype: 'float32', shape: [...x.shape.slice(0, -1), at(w.shape, 1)] }];
    },
    emit: (ctx, inputs, y) =>
      ctx.node('DynamicQuantizeMatMul', inputs.map(ctx.name), [ctx.name(y)], {}, 'com.microsoft'),
  }),
  QuantizeLinear: primitive(3, {
    // x float → round(x / scale) + zeroPoint, saturated to the zero point's type (uint8 here).
    infer: ([x, scale, zeroPoint]) => {
      if (x.dtype !== 'float32' || scale.dtype !== 'float32') fail('expects float32 x and scale');
      return [{ dtype: zeroPoint.dtype, shape: x.shape }];
    },
    emit: simple('QuantizeLinear'),
  }),
  DequantizeLinear: primitive(3, {
    // (q - zeroPoint) · scale; with `axis`, scale and zero point are per slice along that axis.
    infer: ([q, scale, zeroPoint]) => {
      if (scale.dtype !== 'float32' || q.dtype !== zeroPoint.dtype)
        fail("expects float32 scale and a zero point of q's dtype");
      return [{ dtype: 'float32', shape: q.shape }];
    },
    emit: (ctx, inputs, y, attrs) =>
      ctx.node(
        'DequantizeLinear',
        inputs.map(ctx.name),
        [ctx.name(y)],
        attrs.axis === undefined ? {} : { axis: attrs.axis as number },
      ),
  }),
} satisfies Record<string, Primitive>;

export type OpName = keyof typeof PRIMITIVES;
