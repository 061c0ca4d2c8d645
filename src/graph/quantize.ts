// Dynamic int8 quantization, an inference-only rewrite: every MatMul whose right operand is a
// weight (a parameter, possibly sliced or transposed, as linear() and splitInProj() build them)
// becomes DynamicQuantizeMatMul with int8 weights, one symmetric scale per output column.
// Activations stay float32 and are quantized per batch by ONNX Runtime (uint8, asymmetric).
// Not exact: it trades a small feature error (measured by the benchmark) for integer GEMMs.

import { liveNodes, type Graph, type Node, type Value } from './ir.js';

interface Matrix { data: Float32Array; rows: number; cols: number; name: string }

/** The float value of a weight expression (param → Slice rows → Transpose), or undefined. */
function weightMatrix(v: Value, graph: Graph, producers: Map<number, Node>): Matrix | undefined {
  const init = graph.initializers.get(v.id);
  if (init) {
    if (!(init.data instanceof Float32Array) || v.rank !== 2) return undefined;
    return { data: init.data, rows: v.dim(0), cols: v.dim(1), name: init.name };
  }
  const node = producers.get(v.id);
  if (!node) return undefined;
  const src = weightMatrix(node.inputs[0]!, graph, producers);
  if (!src) return undefined;
  if (node.op === 'Transpose') {
    const t = new Float32Array(src.data.length);
    for (let r = 0; r < src.rows; r++) for (let c = 0; c < src.cols; c++) t[c * src.rows + r] = src.data[r * src.cols + c]!;
    return { data: t, rows: src.cols, cols: src.rows, name: src.name };
  }
  if (node.op === 'Slice' && node.attrs.axis === 0) {
    const [start, end] = [node.attrs.start as number, node.attrs.end as number];
    return { data: src.data.subarray(start * src.cols, end * src.cols), rows: end - start, cols: src.cols, name: `${src.name}[${start}:${end}]` };
  }
  return undefined;
}

/** Symmetric per-column int8: scale = max|column| / 127, q = round(w / scale). */
export function quantizeColumns(m: Matrix): { q: Int8Array; scales: Float32Array } {
  const scales = new Float32Array(m.cols);
  for (let r = 0; r < m.rows; r++) for (let c = 0; c < m.cols; c++) scales[c] = Math.max(scales[c]!, Math.abs(m.data[r * m.cols + c]!));
  for (let c = 0; c < m.cols; c++) scales[c] = scales[c]! > 0 ? scales[c]! / 127 : 1;
  const q = new Int8Array(m.rows * m.cols);
  for (let r = 0; r < m.rows; r++) for (let c = 0; c < m.cols; c++) q[r * m.cols + c] = Math.round(m.data[r * m.cols + c]! / scales[c]!);
  return { q, scales };
}

/** Rewrites the graph in place; returns how many matmuls now use int8 weights. */
export function quantizeWeightMatmuls(graph: Graph): number {
  const producers = new Map<number, Node>();
  for (const node of graph.nodes) for (const out of node.outputs) producers.set(out.id, node);
  const live = new Set(liveNodes(graph).nodes);
  let count = 0;
  graph.nodes.forEach((node, i) => {
    if (!live.has(node) || node.op !== 'MatMul' || node.inputs[0]!.dtype !== 'float32') return;
    const w = weightMatrix(node.inputs[1]!, graph, producers);
    if (!w) return;
    const { q, scales } = quantizeColumns(w);
    const weights = graph.param(`${w.name}.int8`, q, [w.rows, w.cols], 'int8');
    const scale = graph.param(`${w.name}.int8_scale`, scales, [w.cols]);
    // The output values keep their identity, so every consumer now reads the quantized product.
    graph.nodes[i] = { op: 'DynamicQuantizeMatMul', inputs: [node.inputs[0]!, weights, scale], attrs: {}, outputs: node.outputs };
    count++;
  });
  return count;
}
