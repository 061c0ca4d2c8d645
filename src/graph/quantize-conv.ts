// Static int8 quantisation of convolutions (ResNet towers, the ViT patch embedding), an
// inference-only rewrite in ONNX's QDQ form: each convolution reads its input through
// QuantizeLinear → DequantizeLinear (uint8, one scale per tensor, from ranges measured on
// calibration images), its weights as int8 with one symmetric scale per output channel and its
// bias as int32, and its output (after the ReLU that follows it, when one does) is quantized the
// same way. ONNX Runtime fuses each DQ → Conv (→ Relu) → Q group into one QLinearConv, an integer
// convolution (VNNI / AMX on CPUs that have them). Unlike the matmuls' dynamic quantisation
// (quantize.ts), activations here need ranges known in advance: calibrateConvs measures them.

import { at, first } from '../checked.js';
import { foldedWeight } from './fold.js';
import { liveNodes, type Graph, type Node, type Value } from './ir.js';

/** Observed [min, max] of a value over the calibration images. */
export type Ranges = Map<number, [number, number]>;

/** Convolutions with weights (not inputs) among the nodes that compute the outputs. */
function quantizableConvs(graph: Graph): Node[] {
  const isWeight = (v: Value | undefined) => v === undefined || foldedWeight(graph, v) !== undefined;
  return liveNodes(graph).nodes.filter((n) => n.op === 'Conv' && isWeight(n.inputs[1]) && isWeight(n.inputs[2]));
}

/** The value quantized after a convolution: the ReLU's output when a ReLU is its only consumer. */
function outputPoints(graph: Graph, convs: readonly Node[]): Map<Node, Value> {
  const consumers = new Map<number, Node[]>();
  for (const node of liveNodes(graph).nodes) {
    for (const v of node.inputs) consumers.set(v.id, [...(consumers.get(v.id) ?? []), node]);
  }
  return new Map(
    convs.map((conv) => {
      const out = first(conv.outputs);
      const users = consumers.get(out.id) ?? [];
      const relu = users.length === 1 && users[0]?.op === 'Relu' ? users[0] : undefined;
      return [conv, relu ? first(relu.outputs) : out];
    }),
  );
}

/** The values whose ranges quantizeConvs needs: every convolution's input and output point. */
export function calibrationValues(graph: Graph): Value[] {
  const convs = quantizableConvs(graph);
  const points = outputPoints(graph, convs);
  const values = new Map<number, Value>();
  for (const conv of convs) for (const v of [first(conv.inputs), outputPoint(points, conv)]) values.set(v.id, v);
  return [...values.values()];
}

/** Folds a batch of observed values into `ranges`. */
export function observe(ranges: Ranges, id: number, data: ArrayLike<number>): void {
  let [lo, hi] = ranges.get(id) ?? [Infinity, -Infinity];
  for (let i = 0; i < data.length; i++) {
    const x = at(data, i);
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  ranges.set(id, [lo, hi]);
}

function outputPoint(points: Map<Node, Value>, conv: Node): Value {
  const point = points.get(conv);
  if (!point) throw new Error('a convolution without an output point');
  return point;
}

/** Symmetric int8 per output channel (axis 0): scale = max |w| / 127 over the channel. */
function perChannelInt8(data: Float32Array, channels: number): { q: Int8Array; scales: Float32Array } {
  const per = data.length / channels;
  const scales = new Float32Array(channels);
  data.forEach((v, i) => {
    const o = Math.floor(i / per);
    scales[o] = Math.max(at(scales, o), Math.abs(v));
  });
  scales.forEach((s, o) => {
    scales[o] = s > 0 ? s / 127 : 1;
  });
  const q = Int8Array.from(data, (v, i) =>
    Math.max(-127, Math.min(127, Math.round(v / at(scales, Math.floor(i / per))))),
  );
  return { q, scales };
}

/** uint8 affine parameters covering [min, max] and 0 (so zero, ReLU's floor, is exact). */
export function activationScale([min, max]: [number, number]): { scale: number; zeroPoint: number } {
  const lo = Math.min(min, 0);
  const hi = Math.max(max, 0);
  const scale = hi > lo ? (hi - lo) / 255 : 1;
  return { scale, zeroPoint: Math.min(255, Math.max(0, Math.round(-lo / scale))) };
}

/**
 * Rewrites, in place, every convolution whose input and output ranges are in `ranges` (see
 * calibrationValues); returns how many. Values keep their identity, so consumers read the
 * dequantized results.
 */
export function quantizeConvs(graph: Graph, ranges: Ranges): number {
  const convs = quantizableConvs(graph).filter((c) => ranges.has(first(c.inputs).id));
  const points = outputPoints(graph, convs);
  const scalar = (name: string, value: number, dtype: 'float32' | 'uint8') =>
    graph.param(name, dtype === 'float32' ? Float32Array.of(value) : Uint8Array.of(value), [], dtype);
  const node = (op: Node['op'], inputs: Value[], outputs: Value[], attrs: Node['attrs'] = {}): Node => ({
    op,
    inputs,
    attrs,
    outputs,
  });
  // A new value of `like`'s shape: raw results whose QDQ pairs then produce the original values.
  const fresh = (like: Value, dtype: Value['dtype']) => graph.detachedValue(dtype, like.shape);

  const producers = new Map<number, Node>();
  for (const n of graph.nodes) for (const v of n.outputs) producers.set(v.id, n);
  const dequantized = new Map<number, { value: Value; scale: number }>(); // value id → its DQ output
  const rewritten = new Map<Node, Node[]>();
  type Pair = { nodes: Node[]; value: Value; scale: number };
  const qdq = (x: Value, target: Value | undefined, tag: string): Pair => {
    const range = ranges.get((target ?? x).id);
    if (!range) throw new Error(`no calibrated range for value ${(target ?? x).id}`);
    const { scale, zeroPoint } = activationScale(range);
    const s = scalar(`${tag}.scale`, scale, 'float32');
    const z = scalar(`${tag}.zero_point`, zeroPoint, 'uint8');
    const q = fresh(x, 'uint8');
    const y = target ?? fresh(x, 'float32');
    const nodes = [node('QuantizeLinear', [x, s, z], [q]), node('DequantizeLinear', [q, s, z], [y])];
    return { nodes, value: y, scale };
  };

  convs.forEach((conv, i) => {
    const tag = `conv${i}`;
    const nodes: Node[] = [];
    const [x, w, b] = conv.inputs as [Value, Value, Value | undefined];
    let input = dequantized.get(x.id);
    const producer = producers.get(x.id);
    if (!input && producer && !rewritten.has(producer)) {
      // Every consumer of x reads it dequantized (a residual Add too: ONNX Runtime then runs
      // QLinearAdd, and the tensor stays int8 between the convolutions).
      const raw = fresh(x, 'float32');
      const r = qdq(raw, x, `${tag}.input`);
      rewritten.set(producer, [{ ...producer, outputs: [raw] }, ...r.nodes]);
      input = { value: x, scale: r.scale };
      dequantized.set(x.id, input);
    } else if (!input) {
      const r = qdq(x, undefined, `${tag}.input`);
      nodes.push(...r.nodes);
      input = { value: r.value, scale: r.scale };
      dequantized.set(x.id, input);
    }
    const weight = foldedWeight(graph, w);
    if (!weight) throw new Error('a quantizable convolution without weights'); // (quantizableConvs checked)
    const channels = w.dim(0);
    const { q, scales } = perChannelInt8(weight.data() as Float32Array, channels);
    // Per output channel (axis 0): int8 weights, and the int32 bias at scale input · weight[o].
    const perChannel = (name: string, data: Int8Array | Int32Array, shape: Value['shape'], scale: Float32Array) => {
      const out = graph.detachedValue('float32', shape);
      const dtype = data instanceof Int8Array ? 'int8' : 'int32';
      const zeros = dtype === 'int8' ? new Int8Array(channels) : new Int32Array(channels);
      const inputs = [
        graph.param(name, data, shape, dtype),
        graph.param(`${name}.scale`, scale, [channels]),
        graph.param(`${name}.zero_point`, zeros, [channels], dtype),
      ];
      nodes.push(node('DequantizeLinear', inputs, [out], { axis: 0 }));
      return out;
    };
    const convInputs = [input.value, perChannel(`${weight.name}.int8`, q, w.shape, scales)];
    if (b) {
      const bias = foldedWeight(graph, b)?.data();
      if (!(bias instanceof Float32Array)) throw new Error('a quantizable convolution without a float32 bias');
      const inputScale = input.scale;
      const biasScales = Float32Array.from(scales, (s) => s * inputScale);
      const biasInt32 = Int32Array.from(bias, (v, o) => Math.round(v / at(biasScales, o)));
      convInputs.push(perChannel(`${weight.name}.bias_int32`, biasInt32, [channels], biasScales));
    }
    const point = outputPoint(points, conv);
    if (point === conv.outputs[0]) {
      const raw = fresh(point, 'float32');
      nodes.push(node('Conv', convInputs, [raw], conv.attrs));
      const r = qdq(raw, point, `${tag}.output`);
      nodes.push(...r.nodes);
      dequantized.set(point.id, { value: point, scale: r.scale });
    } else {
      nodes.push(node('Conv', convInputs, conv.outputs, conv.attrs));
      const relu = point.producer;
      if (!relu) throw new Error('a quantized ReLU output without its ReLU');
      const raw = fresh(point, 'float32');
      const r = qdq(raw, point, `${tag}.output`);
      rewritten.set(relu, [node('Relu', relu.inputs as Value[], [raw]), ...r.nodes]);
      dequantized.set(point.id, { value: point, scale: r.scale });
    }
    rewritten.set(conv, nodes);
  });
  const rebuilt = graph.nodes.flatMap((n) => rewritten.get(n) ?? [n]);
  graph.nodes.splice(0, graph.nodes.length, ...rebuilt);
  return convs.length;
}
