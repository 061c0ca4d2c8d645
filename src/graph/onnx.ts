// Serialises an IR graph to an ONNX model (opset 17) with the onnx-proto package.
// Weights go inline, or, for models near protobuf's 2 GB limit, into an external data file
// beside the model (ONNX's external-data convention), which ONNX Runtime reads by path.

import { closeSync, openSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import onnxProto, { type onnx as OnnxTypes } from 'onnx-proto';

// onnx-proto is CommonJS: take the namespace object from its default export.
const { onnx } = onnxProto;
import { foldedWeight, LAYOUT_OPS, transposedWeightOperand } from './fold.js';
import { liveNodes, type Graph, type Initializer, type Node, type Value } from './ir.js';
import { onnxDtype, PRIMITIVES, type EmitContext } from './ops.js';
import { DTYPE_SIZE, numel } from '../tensor.js';
import { first } from '../checked.js';

export const OPSET = 17;

function symbolicShape(shape: readonly (number | string)[]): OnnxTypes.ITypeProto {
  return {
    tensorType: {
      shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
    },
  };
}

function valueInfo(name: string, v: Value): OnnxTypes.IValueInfoProto {
  const type = symbolicShape(v.shape);
  return { name, type: { tensorType: { ...type.tensorType, elemType: onnxDtype(v.dtype) } } };
}

function bytesOf(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export interface OnnxOptions {
  /** Write initializers larger than 1 KiB to this file (a path); the model refers to it by base name. */
  externalDataPath?: string;
  /**
   * Emit x @ wᵀ as FusedMatMul(transB) over the stored weight (default true). False stores wᵀ as
   * a weight of its own and emits a plain MatMul: onnxruntime-web's WebGPU (JSEP) FusedMatMul
   * with transB computes wrong results (CLIP's attention projections off by ~4 on SwiftShader,
   * onnxruntime-web 1.30), so runtime/web.ts turns it off there.
   */
  fuseTransposedWeights?: boolean;
}

/** The ONNX ModelProto bytes of a graph. */
export function toOnnx(graph: Graph, options: OnnxOptions = {}): Uint8Array {
  const live = liveNodes(graph);
  const domains = new Set<string>();
  const names = new Map<number, string>();
  const nodes: OnnxTypes.INodeProto[] = [];
  const initializers: OnnxTypes.ITensorProto[] = [];
  let temps = 0;

  // Layout ops on weights become weights of their own (fold.ts); equal names are equal data.
  const weights = new Map<string, Initializer>();
  for (const init of graph.initializers.values()) weights.set(init.name, init);
  const asWeight = (v: Value): boolean => {
    const folded = foldedWeight(graph, v);
    if (!folded) return false;
    if (!weights.has(folded.name)) weights.set(folded.name, { name: folded.name, value: v, data: folded.data });
    names.set(v.id, folded.name);
    return true;
  };
  // x @ wᵀ reads w in place (FusedMatMul transB=1): the transposed weight is never made.
  const transB = new Map<Node, Value>();
  const emitted = live.nodes.filter((node) => {
    const w = options.fuseTransposedWeights === false ? undefined : transposedWeightOperand(graph, node);
    if (w && asWeight(w)) transB.set(node, w);
    return !(LAYOUT_OPS.has(node.op) && asWeight(first(node.outputs)));
  });
  const operands = (node: Node): readonly Value[] => {
    const w = transB.get(node);
    return w ? [first(node.inputs), w] : node.inputs;
  };
  const used = new Set<number>(graph.outputs.map((o) => o.value.id));
  for (const node of emitted) for (const v of operands(node)) used.add(v.id);

  for (const { name, value } of graph.inputs) names.set(value.id, name);
  for (const [id, init] of graph.initializers) names.set(id, init.name);
  const identities: [string, string][] = [];
  for (const { name, value } of graph.outputs) {
    // An output that is an input, a weight or already an output keeps its name; copy it instead.
    const existing = names.get(value.id);
    if (existing !== undefined) identities.push([existing, name]);
    else names.set(value.id, name);
  }
  const nameOf = (v: Value): string => {
    let n = names.get(v.id);
    if (n === undefined) {
      n = `v${v.id}`;
      names.set(v.id, n);
    }
    return n;
  };

  const ctx: EmitContext = {
    name: nameOf,
    int64: (values) => {
      const name = `shape_${temps++}`;
      initializers.push({
        name,
        dataType: onnx.TensorProto.DataType.INT64,
        dims: [values.length],
        rawData: bytesOf(BigInt64Array.from(values, BigInt)),
      });
      return name;
    },
    temp: (hint) => `${hint}_${temps++}`,
    node: (opType, inputs, outputs, attrs = {}, domain) => {
      if (domain) domains.add(domain);
      nodes.push({
        opType,
        input: inputs,
        output: outputs,
        domain: domain ?? '',
        name: `${opType}_${nodes.length}`,
        attribute: Object.entries(attrs).map(([name, a]) => {
          if (typeof a === 'string')
            return { name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(a) };
          if (Array.isArray(a)) return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: a };
          return { name, type: onnx.AttributeProto.AttributeType.INT, i: a as number };
        }),
      });
    },
  };

  for (const node of emitted) {
    if (transB.has(node))
      ctx.node(
        'FusedMatMul',
        operands(node).map(nameOf),
        [nameOf(first(node.outputs))],
        { transB: 1 },
        'com.microsoft',
      );
    else PRIMITIVES[node.op].emit(ctx, node.inputs, node.outputs, node.attrs as never);
  }
  for (const [from, to] of identities) ctx.node('Identity', [from], [to]);

  const { externalDataPath } = options;
  const external = externalDataPath ? openSync(externalDataPath, 'w') : undefined;
  const largest = Math.max(0, ...[...weights.values()].map((w) => numel(w.value.shape as number[])));
  const scratch = external === undefined ? undefined : new Float32Array(largest);
  let offset = 0;
  try {
    const written = new Set<string>();
    for (const [id, name] of names) {
      const init = weights.get(name);
      if (!init || !used.has(id) || written.has(name)) continue;
      written.add(name);
      const v = init.value;
      // External data is written at once, so conversions may reuse one scratch buffer.
      const bytes = bytesOf(external === undefined ? init.data() : init.data(scratch));
      const tensor: OnnxTypes.ITensorProto = {
        name: init.name,
        dataType: onnxDtype(v.dtype),
        dims: v.shape as number[],
      };
      if (external !== undefined && externalDataPath && bytes.byteLength > 1024) {
        writeSync(external, bytes);
        tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
        tensor.externalData = [
          { key: 'location', value: basename(externalDataPath) },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: String(bytes.byteLength) },
        ];
        offset += bytes.byteLength;
      } else {
        // Kept inline: a copy, since with external data `bytes` may view the reused scratch buffer.
        tensor.rawData = external === undefined ? bytes : bytes.slice();
      }
      initializers.push(tensor);
    }
  } finally {
    if (external !== undefined) closeSync(external);
  }

  const model: OnnxTypes.IModelProto = {
    irVersion: 8,
    producerName: 'clip-ts',
    opsetImport: [{ domain: '', version: OPSET }, ...[...domains].map((domain) => ({ domain, version: 1 }))],
    graph: {
      name: 'clip',
      node: nodes,
      initializer: initializers,
      input: graph.inputs.map(({ name, value }) => valueInfo(name, value)),
      output: graph.outputs.map(({ name, value }) => valueInfo(name, value)),
    },
  };
  return onnx.ModelProto.encode(model).finish();
}

/** Total bytes of a graph's weights, to decide between inline and external data. */
export function weightBytes(graph: Graph): number {
  let total = 0;
  for (const { value } of graph.initializers.values())
    total += numel(value.shape as number[]) * DTYPE_SIZE[value.dtype];
  return total;
}
