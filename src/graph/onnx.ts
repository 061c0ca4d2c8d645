// Serialises an IR graph to an ONNX model (opset 17) with the onnx-proto package.
// Weights go inline, or, for models near protobuf's 2 GB limit, into an external data file
// beside the model (ONNX's external-data convention), which ONNX Runtime reads by path.

import { closeSync, openSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import onnxProto, { type onnx as OnnxTypes } from 'onnx-proto';

// onnx-proto is CommonJS: take the namespace object from its default export.
const { onnx } = onnxProto;
import type { Graph, Value } from './ir.js';
import { onnxDtype, PRIMITIVES, type EmitContext } from './ops.js';

export const OPSET = 17;
/** Protobuf messages cannot exceed 2 GiB; stay well below it. */
export const INLINE_WEIGHT_LIMIT = 1.5 * 2 ** 30;

function symbolicShape(shape: readonly (number | string)[]): OnnxTypes.ITypeProto {
  return {
    tensorType: {
      shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
    },
  };
}

function valueInfo(name: string, v: Value): OnnxTypes.IValueInfoProto {
  const type = symbolicShape(v.shape);
  type.tensorType!.elemType = onnxDtype(v.dtype);
  return { name, type };
}

function bytesOf(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export interface OnnxOptions {
  /** Write initializers larger than 1 KiB to this file (a path); the model refers to it by base name. */
  externalDataPath?: string;
}

/** The nodes that contribute to an output (taps not exposed and rewritten-away weights are dropped). */
function liveNodes(graph: Graph): { nodes: Graph['nodes']; values: Set<number> } {
  const producer = new Map<number, Graph['nodes'][number]>();
  for (const node of graph.nodes) for (const out of node.outputs) producer.set(out.id, node);
  const live = new Set<number>(graph.outputs.map((o) => o.value.id));
  const pending = [...live];
  const liveNodeSet = new Set<Graph['nodes'][number]>();
  while (pending.length) {
    const node = producer.get(pending.pop()!);
    if (!node || liveNodeSet.has(node)) continue;
    liveNodeSet.add(node);
    for (const v of node.inputs) if (!live.has(v.id)) { live.add(v.id); pending.push(v.id); }
  }
  return { nodes: graph.nodes.filter((n) => liveNodeSet.has(n)), values: live };
}

/** The ONNX ModelProto bytes of a graph. */
export function toOnnx(graph: Graph, options: OnnxOptions = {}): Uint8Array {
  const live = liveNodes(graph);
  const domains = new Set<string>();
  const names = new Map<number, string>();
  const nodes: OnnxTypes.INodeProto[] = [];
  const initializers: OnnxTypes.ITensorProto[] = [];
  let temps = 0;

  for (const { name, value } of graph.inputs) names.set(value.id, name);
  for (const [id, init] of graph.initializers) names.set(id, init.name);
  const identities: [string, string][] = [];
  for (const { name, value } of graph.outputs) {
    // An output that is an input, a weight or already an output keeps its name; copy it instead.
    if (names.has(value.id)) identities.push([names.get(value.id)!, name]);
    else names.set(value.id, name);
  }
  const nameOf = (v: Value): string => {
    let n = names.get(v.id);
    if (n === undefined) { n = `v${v.id}`; names.set(v.id, n); }
    return n;
  };

  const ctx: EmitContext = {
    name: nameOf,
    int64: (values) => {
      const name = `shape_${temps++}`;
      initializers.push({ name, dataType: onnx.TensorProto.DataType.INT64, dims: [values.length], rawData: bytesOf(BigInt64Array.from(values, BigInt)) });
      return name;
    },
    temp: (hint) => `${hint}_${temps++}`,
    node: (opType, inputs, outputs, attrs = {}, domain) => {
      if (domain) domains.add(domain);
      nodes.push({
        opType, input: inputs, output: outputs, domain: domain ?? '', name: `${opType}_${nodes.length}`,
        attribute: Object.entries(attrs).map(([name, a]) => {
          if (typeof a === 'string') return { name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(a) };
          if (Array.isArray(a)) return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: a };
          return { name, type: onnx.AttributeProto.AttributeType.INT, i: a as number };
        }),
      });
    },
  };

  for (const node of live.nodes) PRIMITIVES[node.op].emit(ctx, node.inputs, node.outputs, node.attrs as never);
  for (const [from, to] of identities) ctx.node('Identity', [from], [to]);

  const external = options.externalDataPath ? openSync(options.externalDataPath, 'w') : undefined;
  let offset = 0;
  try {
    for (const init of graph.initializers.values()) {
      const v = init.value;
      if (!live.values.has(v.id)) continue;
      const bytes = bytesOf(init.data);
      const tensor: OnnxTypes.ITensorProto = { name: init.name, dataType: onnxDtype(v.dtype), dims: v.shape as number[] };
      if (external !== undefined && bytes.byteLength > 1024) {
        writeSync(external, bytes);
        tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
        tensor.externalData = [
          { key: 'location', value: basename(options.externalDataPath!) },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: String(bytes.byteLength) },
        ];
        offset += bytes.byteLength;
      } else {
        tensor.rawData = bytes;
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
  for (const init of graph.initializers.values()) total += init.data.byteLength;
  return total;
}
