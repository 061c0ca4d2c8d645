// Layout ops on weights, applied ahead of time. Model code reads like the reference
// (`x @ weight.T`, `in_proj_weight[0:D]`), which leaves Transpose / Slice / Reshape nodes on
// initializers; ONNX Runtime would fold them at every session creation, holding both layouts of
// every matrix at once. Serialisation (onnx.ts) and the int8 rewrite (quantize.ts) instead ask
// `foldedWeight` for the weight as the consumer sees it, made lazily, one tensor at a time.

import { at, first } from '../checked.js';
import type { ConstData, ElementRange, Graph, Node, Value } from './ir.js';

export const LAYOUT_OPS: ReadonlySet<Node['op']> = new Set(['Transpose', 'Slice', 'Reshape']);

export interface FoldedWeight {
  /** The source initializer's name with the layout ops appended (`w[0:768].T`): equal names, equal data. */
  name: string;
  /** The values (`scratch` and `range` as in Initializer.data). */
  data(scratch?: Float32Array, range?: ElementRange): ConstData;
}

type Typed = ConstData;
const alike = (data: Typed, length: number): Typed => new (data.constructor as new (n: number) => Typed)(length);

function strides(shape: readonly number[]): number[] {
  return shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
}

/** A matrix transposed in 64×64 tiles (cache-friendly; the general path is 10× slower on big weights). */
function transpose2d(data: Typed, rows: number, cols: number): Typed {
  const out = alike(data, data.length);
  const T = 64;
  for (let r0 = 0; r0 < rows; r0 += T) {
    for (let c0 = 0; c0 < cols; c0 += T) {
      const r1 = Math.min(r0 + T, rows);
      const c1 = Math.min(c0 + T, cols);
      for (let r = r0; r < r1; r++)
        for (let c = c0; c < c1; c++) out[c * rows + r] = at<number | bigint>(data, r * cols + c);
    }
  }
  return out;
}

function transpose(data: Typed, shape: readonly number[], perm: readonly number[]): Typed {
  if (shape.length === 2 && perm[0] === 1) return transpose2d(data, at(shape, 0), at(shape, 1));
  const outShape = perm.map((p) => at(shape, p));
  const inStrides = strides(shape);
  const step = perm.map((p) => at(inStrides, p)); // input offset per step along each output axis
  const out = alike(data, data.length);
  const index = new Array<number>(shape.length).fill(0);
  let src = 0;
  for (let o = 0; o < out.length; o++) {
    out[o] = at<number | bigint>(data, src);
    for (let a = shape.length - 1; a >= 0; a--) {
      src += at(step, a);
      index[a] = at(index, a) + 1;
      if (at(index, a) < at(outShape, a)) break;
      src -= at(step, a) * at(outShape, a);
      index[a] = 0;
    }
  }
  return out;
}

function slice(data: Typed, shape: readonly number[], axis: number, start: number, end: number): Typed {
  const inner = at(strides(shape), axis);
  if (axis === 0) return data.subarray(start * inner, end * inner);
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const rowIn = at(shape, axis) * inner;
  const rowOut = (end - start) * inner;
  const out = alike(data, outer * rowOut);
  // (Float32Array stands for any of the typed arrays here: `set` copies elements of the same type.)
  for (let o = 0; o < outer; o++) {
    const row = data.subarray(o * rowIn + start * inner, o * rowIn + end * inner);
    (out as Float32Array).set(row as Float32Array, o * rowOut);
  }
  return out;
}

function apply(node: Node, data: Typed, shape: readonly number[]): Typed {
  const { attrs } = node;
  if (node.op === 'Transpose') return transpose(data, shape, attrs.perm as number[]);
  if (node.op === 'Slice') {
    const axis = (attrs.axis as number) < 0 ? (attrs.axis as number) + shape.length : (attrs.axis as number);
    return slice(data, shape, axis, attrs.start as number, attrs.end as number);
  }
  return data; // Reshape: same elements, same order
}

function suffix(node: Node): string {
  const { attrs } = node;
  if (node.op === 'Transpose') {
    const perm = attrs.perm as number[];
    return perm.join() === '1,0' ? '.T' : `.T${perm.join('')}`;
  }
  if (node.op === 'Slice') {
    const axis = attrs.axis === 0 ? '' : `axis${attrs.axis as number}:`;
    return `[${axis}${attrs.start as number}:${attrs.end as number}]`;
  }
  return `.reshape(${first(node.outputs).shape.join('x')})`;
}

const fixed = (v: Value): v is Value & { shape: readonly number[] } => v.shape.every((d) => typeof d === 'number');

/** `v` as a weight when it is an initializer, or layout ops over one (fixed shapes); else undefined. */
export function foldedWeight(graph: Graph, v: Value): FoldedWeight | undefined {
  const init = graph.initializers.get(v.id);
  if (init) return { name: init.name, data: init.data };
  const node = v.producer;
  const input = node?.inputs[0];
  if (!node || !input || !LAYOUT_OPS.has(node.op) || !fixed(v) || !fixed(input)) return undefined;
  const src = foldedWeight(graph, input);
  if (!src) return undefined;
  const { shape } = input;
  return { name: `${src.name}${suffix(node)}`, data: (scratch, range) => applyTo(node, src, shape, scratch, range) };
}

/**
 * `node` applied to the weight `src` of shape `shape`. Reshapes and slices of leading rows ask
 * `src` for just their elements, so a q/k/v slice of a packed in_proj weight converts a third of
 * it rather than all of it three times.
 */
function applyTo(
  node: Node,
  src: FoldedWeight,
  shape: readonly number[],
  scratch?: Float32Array,
  range?: ElementRange,
): ConstData {
  if (node.op === 'Reshape') return src.data(scratch, range);
  const { attrs } = node;
  if (node.op === 'Slice' && (attrs.axis === 0 || attrs.axis === -shape.length)) {
    const row = first(strides(shape));
    const offset = (attrs.start as number) * row;
    const [from, to] = range ?? [0, ((attrs.end as number) - (attrs.start as number)) * row];
    return src.data(scratch, [offset + from, offset + to]);
  }
  const whole = apply(node, src.data(scratch), shape);
  return range ? (whole.subarray(...range) as ConstData) : whole;
}

/**
 * For MatMul(x, Transpose(w)) with w a 2-D weight (`linear`'s x @ wᵀ): w, so the product can read
 * it transposed in place (ONNX Runtime's FusedMatMul with transB, which prepacks w like MatMul
 * prepacks wᵀ) and no transposed copy is ever made. Weights fed as inputs (training) do not qualify.
 */
export function transposedWeightOperand(graph: Graph, node: Node): Value | undefined {
  const t = node.op === 'MatMul' ? node.inputs[1]?.producer : undefined;
  const w = t?.op === 'Transpose' ? t.inputs[0] : undefined;
  return w?.rank === 2 && foldedWeight(graph, w) ? w : undefined;
}
