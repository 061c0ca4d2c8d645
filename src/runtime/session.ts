// One small interface over ONNX Runtime: build a session from an IR graph, run it on plain
// typed-array tensors. Device and thread settings live here and nowhere else.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { InputError } from '../errors.js';
import type { Graph } from '../graph/ir.js';
import { INLINE_WEIGHT_LIMIT, toOnnx, weightBytes } from '../graph/onnx.js';
import type { Tensor } from '../tensor.js';

export type Device = 'cpu' | 'cuda';

export interface RuntimeOptions {
  /** 'cpu' (default) or 'cuda' (needs onnxruntime-node's CUDA binaries, see README). */
  device?: Device;
  /** Intra-op threads; default: ONNX Runtime's choice (one per core). */
  threads?: number;
  /** ONNX Runtime graph optimisation level (default 'all'). */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
}

export type TensorLike = Tensor<Float32Array | Int32Array | BigInt64Array | Uint8Array>;

function sessionOptions(opts: RuntimeOptions): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [opts.device === 'cuda' ? 'cuda' : 'cpu'],
    graphOptimizationLevel: opts.optimization ?? 'all',
    ...(opts.threads ? { intraOpNumThreads: opts.threads } : {}),
  };
}

function ortTensor(t: TensorLike): ort.Tensor {
  const d = t.data;
  const type = d instanceof Float32Array ? 'float32' : d instanceof Int32Array ? 'int32' : d instanceof BigInt64Array ? 'int64' : 'uint8';
  return new ort.Tensor(type, d, t.shape as number[]);
}

export class Session {
  private constructor(private readonly session: ort.InferenceSession, readonly inputNames: readonly string[]) {}

  /** Serialises the graph (weights inline, or as external data when large) and opens a session. */
  static async create(graph: Graph, opts: RuntimeOptions = {}): Promise<Session> {
    const names = graph.inputs.map((i) => i.name);
    if (weightBytes(graph) < INLINE_WEIGHT_LIMIT) {
      return new Session(await ort.InferenceSession.create(toOnnx(graph), sessionOptions(opts)), names);
    }
    // Over protobuf's limit: model and weights go to a temporary folder, loaded by path.
    const dir = mkdtempSync(join(tmpdir(), 'clip-onnx-'));
    try {
      const modelPath = join(dir, 'model.onnx');
      const bytes = toOnnx(graph, { externalDataPath: join(dir, 'model.onnx.data') });
      const { writeFileSync } = await import('node:fs');
      writeFileSync(modelPath, bytes);
      return new Session(await ort.InferenceSession.create(modelPath, sessionOptions(opts)), names);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** Runs the graph; returns the requested outputs (all by default) as plain tensors. */
  async run(feeds: Record<string, TensorLike>, outputs?: string[]): Promise<Record<string, TensorLike>> {
    for (const name of this.inputNames) if (!(name in feeds)) throw new InputError(`missing input "${name}"`);
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = ortTensor(v);
    const result = outputs ? await this.session.run(ortFeeds, outputs) : await this.session.run(ortFeeds);
    const out: Record<string, TensorLike> = {};
    for (const [k, v] of Object.entries(result)) out[k] = { data: v.data as TensorLike['data'], shape: [...v.dims] };
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
