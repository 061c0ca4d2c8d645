// int8 weight matmuls, an inference-only rewrite: every MatMul whose right operand is a weight
// (a parameter, possibly sliced or transposed, as linear() and splitInProj() build them) gets
// int8 weights, one symmetric scale per output column. Its float32 input is quantized to uint8
// either per run from the batch's own range (dynamic: DynamicQuantizeMatMul, the default) or
// with a scale fixed in advance from ranges measured on calibration inputs (static: QDQ form,
// which ONNX Runtime fuses into MatMulIntegerToFloat). Not exact: a small feature error
// (measured by the benchmark) for integer GEMMs. docs/benchmarks.md has the measured choice.

import { at } from '../checked.js';
import { foldedWeight } from './fold.js';
import { liveNodes, type Graph, type Node, type Value } from './ir.js';
import { activationScale, type Ranges } from './quantize-conv.js';

interface Matrix {
  data: Float32Array;
  rows: number;
  cols: number;
  name: string;
}

/** The float value of a weight expression (a parameter, possibly sliced or transposed), or undefined. */
function weightMatrix(v: Value, graph: Graph): Matrix | undefined {
  const w = v.dtype === 'float32' && v.rank === 2 ? foldedWeight(graph, v) : undefined;
  return w && { data: w.data() as Float32Array, rows: v.dim(0), cols: v.dim(1), name: w.name };
}

/** Symmetric per-column int8: scale = max|column| / 127, q = round(w / scale). */
export function quantizeColumns(m: Matrix): { q: Int8Array; scales: Float32Array } {
  const scales = new Float32Array(m.cols);
  for (let r = 0; r < m.rows; r++)
    for (let c = 0; c < m.cols; c++) scales[c] = Math.max(at(scales, c), Math.abs(at(m.data, r * m.cols + c)));
  scales.forEach((s, c) => {
    scales[c] = s > 0 ? s / 127 : 1;
  });
  const q = new Int8Array(m.rows * m.cols);
  for (let r = 0; r < m.rows; r++)
    for (let c = 0; c < m.cols; c++) q[r * m.cols + c] = Math.round(at(m.data, r * m.cols + c) / at(scales, c));
  return { q, scales };
}

/** The live MatMuls with a float32 input on the left and a weight expression on the right. */
function weightMatmuls(graph: Graph): { node: Node; x: Value; w: Value }[] {
  const live = new Set(liveNodes(graph).nodes);
  return graph.nodes.flatMap((node) => {
    const [x, w] = node.inputs;
    const eligible = live.has(node) && node.op === 'MatMul' && x?.dtype === 'float32' && w;
    return eligible && foldedWeight(graph, w) ? [{ node, x, w }] : [];
  });
}

/** The values whose ranges static quantisation needs: every weight matmul's float input. */
export function matmulCalibrationValues(graph: Graph): Value[] {
  return [...new Map(weightMatmuls(graph).map(({ x }) => [x.id, x])).values()];
}

/**
 * Rewrites the graph in place; returns how many matmuls now use int8 weights. Matmuls whose
 * input has a range in `ranges` (see matmulCalibrationValues) are quantized statically, the
 * others dynamically. Output values keep their identity, so every consumer reads the new product.
 */
export function quantizeWeightMatmuls(graph: Graph, ranges?: Ranges): number {
  let count = 0;
  const rewritten = new Map<Node, Node[]>();
  for (const { node, x, w: operand } of weightMatmuls(graph)) {
    const w = weightMatrix(operand, graph);
    if (!w) continue;
    const { q, scales } = quantizeColumns(w);
    const weights = graph.param(`${w.name}.int8`, q, [w.rows, w.cols], 'int8');
    const scale = graph.param(`${w.name}.int8_scale`, scales, [w.cols]);
    const range = ranges?.get(x.id);
    rewritten.set(
      node,
      range
        ? staticMatmul(graph, node, x, range, weights, scale, w.name)
        : [{ op: 'DynamicQuantizeMatMul', inputs: [x, weights, scale], attrs: {}, outputs: node.outputs }],
    );
    count++;
  }
  const rebuilt = graph.nodes.flatMap((n) => rewritten.get(n) ?? [n]);
  graph.nodes.splice(0, graph.nodes.length, ...rebuilt);
  return count;
}

/**
 * x → QuantizeLinear → DequantizeLinear (uint8, the calibrated scale) and the int8 weights →
 * DequantizeLinear (per column, axis 1) into the original MatMul: ONNX Runtime's QDQ fusion turns
 * the group into one MatMulIntegerToFloat, the integer GEMM DynamicQuantizeMatMul also runs.
 */
function staticMatmul(
  graph: Graph,
  node: Node,
  x: Value,
  range: [number, number],
  weights: Value,
  scales: Value,
  name: string,
): Node[] {
  const { scale, zeroPoint } = activationScale(range);
  const s = graph.param(`${name}.input_scale`, Float32Array.of(scale), []);
  const z = graph.param(`${name}.input_zero_point`, Uint8Array.of(zeroPoint), [], 'uint8');
  const cols = weights.dim(1);
  const zeros = graph.param(`${name}.int8_zero_point`, new Int8Array(cols), [cols], 'int8');
  const qx = graph.detachedValue('uint8', x.shape);
  const dx = graph.detachedValue('float32', x.shape);
  const dw = graph.detachedValue('float32', weights.shape);
  return [
    { op: 'QuantizeLinear', inputs: [x, s, z], attrs: {}, outputs: [qx] },
    { op: 'DequantizeLinear', inputs: [qx, s, z], attrs: {}, outputs: [dx] },
    { op: 'DequantizeLinear', inputs: [weights, scales, zeros], attrs: { axis: 1 }, outputs: [dw] },
    { op: 'MatMul', inputs: [dx, dw], attrs: {}, outputs: node.outputs },
  ];
}
