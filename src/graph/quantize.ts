// Dynamic int8 quantization, an inference-only rewrite: every MatMul whose right operand is a
// weight (a parameter, possibly sliced or transposed, as linear() and splitInProj() build them)
// becomes DynamicQuantizeMatMul with int8 weights, one symmetric scale per output column.
// Activations stay float32 and are quantized per batch by ONNX Runtime (uint8, asymmetric).
// Not exact: it trades a small feature error (measured by the benchmark) for integer GEMMs.

import { foldedWeight } from './fold.js';
import { liveNodes, type Graph, type Value } from './ir.js';

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
    for (let c = 0; c < m.cols; c++) scales[c] = Math.max(scales[c]!, Math.abs(m.data[r * m.cols + c]!));
  for (let c = 0; c < m.cols; c++) scales[c] = scales[c]! > 0 ? scales[c]! / 127 : 1;
  const q = new Int8Array(m.rows * m.cols);
  for (let r = 0; r < m.rows; r++)
    for (let c = 0; c < m.cols; c++) q[r * m.cols + c] = Math.round(m.data[r * m.cols + c]! / scales[c]!);
  return { q, scales };
}

/** Rewrites the graph in place; returns how many matmuls now use int8 weights. */
export function quantizeWeightMatmuls(graph: Graph): number {
  const live = new Set(liveNodes(graph).nodes);
  let count = 0;
  graph.nodes.forEach((node, i) => {
    if (!live.has(node) || node.op !== 'MatMul' || node.inputs[0]!.dtype !== 'float32') return;
    const w = weightMatrix(node.inputs[1]!, graph);
    if (!w) return;
    const { q, scales } = quantizeColumns(w);
    const weights = graph.param(`${w.name}.int8`, q, [w.rows, w.cols], 'int8');
    const scale = graph.param(`${w.name}.int8_scale`, scales, [w.cols]);
    // The output values keep their identity, so every consumer now reads the quantized product.
    graph.nodes[i] = {
      op: 'DynamicQuantizeMatMul',
      inputs: [node.inputs[0]!, weights, scale],
      attrs: {},
      outputs: node.outputs,
    };
    count++;
  });
  return count;
}
