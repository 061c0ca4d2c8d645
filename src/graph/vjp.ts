// Vector-Jacobian products of the IR's primitives, keyed by op name: given a node and the
// gradient of the loss with respect to its output, each rule builds (from primitives) the
// gradients with respect to its inputs. grad.ts walks the graph backwards and applies them.
// Rules return undefined for inputs that carry no gradient (indices, masks, exponents).

import { GraphError } from '../errors.js';
import type { Dim, Node, Shape, Value } from './ir.js';
import { withArity, type Arity, type Attrs, type Inputs, type OpName } from './ops.js';

/** `needs[i]`: whether input i needs a gradient (rules may skip building the others). */
export type VjpRule = (node: Node, g: Value, needs: readonly boolean[]) => (Value | undefined)[];

const op1 = (x: Value, op: OpName, inputs: Value[], attrs = {}): Value => x.graph.op1(op, inputs, attrs);

/** A node as a rule of its op sees it: inputs as a tuple of the op's arity, and its one output. */
interface RuleNode<N extends Arity> {
  inputs: Inputs<N>;
  output: Value;
  attrs: Attrs;
}

/** A rule for an op of the given arity (checked when it is applied). */
function rule<N extends Arity>(
  arity: N | readonly N[],
  fn: (node: RuleNode<N>, g: Value, needs: readonly boolean[]) => (Value | undefined)[],
): VjpRule {
  return (node, g, needs) => {
    const [output] = node.outputs;
    if (!output || node.outputs.length !== 1) throw new GraphError(`${node.op}: rules handle one output`);
    return fn({ inputs: withArity(arity, node.inputs), output, attrs: node.attrs }, g, needs);
  };
}

/** The value of a scalar constant (an exponent), or undefined when it is computed. */
function constantScalar(v: Value): number | undefined {
  const init = v.graph.initializers.get(v.id);
  return init?.value.shape.every((d) => d === 1) ? Number(init.data()[0]) : undefined;
}

function fixedSize(shape: Shape, axes: number[], what: string): number {
  return axes.reduce((n, a) => {
    const d = shape[a];
    if (typeof d !== 'number')
      throw new GraphError(`${what}: the gradient needs a fixed size along axis ${a}, got ${String(d)}`);
    return n * d;
  }, 1);
}

const normAxis = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);
const normAxes = (axes: readonly number[], rank: number) => axes.map((a) => normAxis(a, rank));

/** Undoes numpy broadcasting: sums g over the axes that broadcasting added or stretched from 1. */
export function sumToShape(g: Value, shape: Shape): Value {
  const lead = g.rank - shape.length;
  let r = g;
  if (lead > 0) r = r.sum([...Array(lead).keys()], false);
  const stretched = shape.flatMap((d, i) => (d === 1 && r.shape[i] !== 1 ? [i] : []));
  if (stretched.length > 0) r = r.sum(stretched, true);
  return r;
}

/** A reduction's output gradient put back at every reduced position: g broadcast to x's shape. */
function unreduce(g: Value, x: Value, axes: number[], keepDims: boolean): Value {
  const kept = keepDims ? g : g.reshape(x.shape.map((d, i) => (axes.includes(i) ? 1 : d)));
  return op1(x, 'ExpandAs', [kept, x]);
}

const swapLast = (v: Value): Value => v.transpose([...Array(v.rank - 2).keys(), v.rank - 1, v.rank - 2]);

/** Rows [..., K] as one [P, K] matrix (P symbolic, named after its factors, when any of them is). */
function asMatrix(v: Value): Value {
  const lead = v.shape.slice(0, -1);
  const rows = lead.every((d) => typeof d === 'number') ? lead.reduce((a, b) => a * b, 1) : lead.join('*');
  return v.reshape([rows, v.dim(-1)]);
}

export const VJP: Partial<Record<OpName, VjpRule>> = {
  Add: rule(2, ({ inputs: [a, b] }, g) => [sumToShape(g, a.shape), sumToShape(g, b.shape)]),
  Sub: rule(2, ({ inputs: [a, b] }, g, needs) => [
    sumToShape(g, a.shape),
    needs[1] ? sumToShape(g.neg(), b.shape) : undefined,
  ]),
  Mul: rule(2, ({ inputs: [a, b] }, g, needs) => [
    needs[0] ? sumToShape(g.mul(b), a.shape) : undefined,
    needs[1] ? sumToShape(g.mul(a), b.shape) : undefined,
  ]),
  Div: rule(2, ({ inputs: [a, b], output: y }, g, needs) => [
    needs[0] ? sumToShape(g.div(b), a.shape) : undefined,
    needs[1] ? sumToShape(g.mul(y).div(b).neg(), b.shape) : undefined,
  ]),
  Pow: rule(2, ({ inputs: [x, e] }, g, needs) => {
    const c = constantScalar(e);
    if (c === undefined || needs[1]) throw new GraphError('Pow: gradients need a constant scalar exponent');
    return [c === 2 ? g.mul(x).mul(2) : g.mul(x.pow(c - 1)).mul(c), undefined];
  }),
  Neg: rule(1, (_, g) => [g.neg()]),
  Exp: rule(1, ({ output: y }, g) => [g.mul(y)]),
  Log: rule(1, ({ inputs: [x] }, g) => [g.div(x)]),
  Sqrt: rule(1, ({ output: y }, g) => [g.div(y).mul(0.5)]),
  Sigmoid: rule(1, ({ output: y }, g) => [g.mul(y).mul(y.neg().add(1))]),
  // torch's convention: no gradient where the input is exactly 0.
  Relu: rule(1, ({ output: y }, g) => [g.mul(op1(y, 'Greater', [y, y.graph.lift(0, y)]).cast(g.dtype))]),
  Erf: rule(1, ({ inputs: [x] }, g) => [g.mul(x.mul(x).neg().exp()).mul(2 / Math.sqrt(Math.PI))]),
  Cast: rule(1, ({ inputs: [x] }, g) => [x.dtype.startsWith('float') ? g.cast(x.dtype) : undefined]),

  ReduceSum: rule(1, ({ inputs: [x], attrs }, g) => [
    unreduce(g, x, normAxes(attrs.axes as number[], x.rank), attrs.keepDims as boolean),
  ]),
  ReduceMean: rule(1, ({ inputs: [x], attrs }, g) => {
    const axes = normAxes(attrs.axes as number[], x.rank);
    return [unreduce(g.div(fixedSize(x.shape, axes, 'ReduceMean')), x, axes, attrs.keepDims as boolean)];
  }),
  // Ties share the gradient equally (torch's amax).
  ReduceMax: rule(1, ({ inputs: [x], output: y, attrs }, g) => {
    const axes = normAxes(attrs.axes as number[], x.rank);
    const keepDims = attrs.keepDims as boolean;
    const hit = x.equal(unreduce(y, x, axes, keepDims)).cast(x.dtype);
    return [hit.div(hit.sum(axes, true)).mul(unreduce(g, x, axes, keepDims))];
  }),
  Softmax: rule(1, ({ output: y, attrs }, g) => {
    const gy = g.mul(y);
    return [gy.sub(y.mul(gy.sum([attrs.axis as number], true)))];
  }),
  LogSoftmax: rule(1, ({ output: y, attrs }, g) => [g.sub(y.exp().mul(g.sum([attrs.axis as number], true)))]),

  MatMul: rule(2, ({ inputs: [a, b] }, g, needs) => {
    let ga: Value | undefined;
    let gb: Value | undefined;
    if (needs[0]) ga = sumToShape(g.matmul(swapLast(b)), a.shape);
    if (needs[1]) {
      // x [..., K] @ W [K, N] (a linear layer): one [K, P] @ [P, N] product instead of a batch of them.
      const flat = b.rank === 2 && a.rank > 2;
      gb = flat ? asMatrix(a).transpose([1, 0]).matmul(asMatrix(g)) : sumToShape(swapLast(a).matmul(g), b.shape);
    }
    return [ga, gb];
  }),

  Reshape: rule(1, ({ inputs: [x] }, g) => [g.reshape(x.shape)]),
  Transpose: rule(1, ({ attrs }, g) => {
    const perm = attrs.perm as number[];
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return [g.transpose(inverse)];
  }),
  Slice: rule(1, ({ inputs: [x], attrs }, g) => {
    const axis = normAxis(attrs.axis as number, x.rank);
    const size = fixedSize(x.shape, [axis], 'Slice');
    return [op1(g, 'Pad', [g], { axis, before: attrs.start as number, after: size - (attrs.end as number) })];
  }),
  SliceAs: rule(2, ({ inputs: [x], attrs }, g) => [op1(g, 'PadAs', [g, x], { axis: attrs.axis as number }), undefined]),
  Concat: rule('variadic', ({ inputs, attrs }, g, needs) => {
    const axis = normAxis(attrs.axis as number, g.rank);
    let start = 0;
    return inputs.map((x, i) => {
      const end = start + fixedSize(x.shape, [axis], 'Concat');
      const part = needs[i] ? g.slice(axis, start, end) : undefined;
      start = end;
      return part;
    });
  }),
  Expand: rule(1, ({ inputs: [x] }, g) => [sumToShape(g, x.shape)]),
  ExpandAs: rule(2, ({ inputs: [x] }, g) => [sumToShape(g, x.shape), undefined]),
  Pad: rule(1, ({ inputs: [x], attrs }, g) => [
    g.slice(
      attrs.axis as number,
      attrs.before as number,
      (attrs.before as number) + fixedSize(x.shape, [normAxis(attrs.axis as number, x.rank)], 'Pad'),
    ),
  ]),

  Gather: rule(2, ({ inputs: [table, indices], attrs }, g) => {
    if (normAxis(attrs.axis as number, table.rank) !== 0)
      throw new GraphError('Gather: gradients are implemented for axis 0 (embedding lookups)');
    return [op1(g, 'ScatterAddRows', [table, indices, g]), undefined];
  }),
  // x [N, L, ...] picked at indices [N]: the gradient sits at position indices[n] of row n.
  PickPerRow: rule(2, ({ inputs: [x, indices] }, g) => {
    const zeros = op1(g, 'ExpandAs', [g.graph.lift(0, g), x]);
    return [op1(g, 'ScatterPerRow', [zeros, indices, g]), undefined];
  }),

  Conv: rule([2, 3], ({ inputs: [x, w, b], attrs }, g, needs) => {
    const conv = { stride: attrs.stride as number, padding: attrs.padding as number };
    return [
      needs[0] ? op1(g, 'ConvInputGrad', [g, w], { ...conv, inputSize: [x.dim(2), x.dim(3)] }) : undefined,
      needs[1] ? op1(g, 'ConvWeightGrad', [x, g], { ...conv, kernel: [w.dim(2), w.dim(3)] }) : undefined,
      b && needs[2] ? g.sum([0, 2, 3], false) : undefined,
    ];
  }),
  // Non-overlapping k × k windows: each input cell of a window gets g / k²; cells the pooling
  // dropped (when H or W is not a multiple of k) get 0.
  AveragePool: rule(1, ({ inputs: [x], attrs }, g) => {
    const k = attrs.kernel as number;
    const [n, c, ho, wo] = g.shape as [Dim, Dim, number, number];
    const ones = g.graph.constant(new Float32Array(k * k).fill(1 / (k * k)), [1, k, 1, k]);
    let up = g
      .reshape([n, c, ho, 1, wo, 1])
      .mul(ones)
      .reshape([n, c, ho * k, wo * k]);
    if (x.dim(2) > ho * k) up = op1(up, 'Pad', [up], { axis: 2, before: 0, after: x.dim(2) - ho * k });
    if (x.dim(3) > wo * k) up = op1(up, 'Pad', [up], { axis: 3, before: 0, after: x.dim(3) - wo * k });
    return [up];
  }),
};
