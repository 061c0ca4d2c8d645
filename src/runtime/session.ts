// One small interface over ONNX Runtime: build a session from an IR graph, run it on plain
// typed-array tensors. Device and thread settings live here and nowhere else.

import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { InputError } from '../errors.js';
import type { Graph } from '../graph/ir.js';
import { INLINE_WEIGHT_LIMIT, toOnnx, weightBytes } from '../graph/onnx.js';
import type { Tensor } from '../tensor.js';
import { checkCommandLineForOnnxRuntime } from './command-line.js';

export type Device = 'cpu' | 'cuda';

export interface RuntimeOptions {
  /** 'cpu' (default) or 'cuda' (needs onnxruntime-node's CUDA binaries, see README). */
  device?: Device;
  /** Intra-op threads; default: ONNX Runtime's choice (one per core). */
  threads?: number;
  /** ONNX Runtime graph optimisation level (default 'all'). */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * Whether idle intra-op threads spin waiting for the next run (ONNX Runtime's default: yes).
   * Off frees the cores between runs for other work in the process (image decoding, other models).
   */
  spinning?: boolean;
}

/** Graph-level settings a caller fixes for its kind of graph (not user options). */
export interface GraphTuning {
  /** ONNX Runtime graph transformers to skip, by name (e.g. 'MatmulTransposeFusion'). */
  disabledOptimizers?: readonly string[];
}

export type TensorLike = Tensor<Float32Array | Int32Array | BigInt64Array | Uint8Array>;

function sessionOptions(opts: RuntimeOptions, tuning: GraphTuning = {}): ort.InferenceSession.SessionOptions {
  checkCommandLineForOnnxRuntime(); // every session is opened with these options
  // `extra` entries become ONNX Runtime session config keys ("session.intra_op.allow_spinning", ...).
  const extra = {
    ...(opts.spinning === false ? { session: { intra_op: { allow_spinning: '0' } } } : {}),
    ...(tuning.disabledOptimizers?.length ? { optimization: { disable_specified_optimizers: tuning.disabledOptimizers.join(';') } } : {}),
  };
  return {
    executionProviders: [opts.device === 'cuda' ? 'cuda' : 'cpu'],
    graphOptimizationLevel: opts.optimization ?? 'all',
    ...(opts.threads ? { intraOpNumThreads: opts.threads } : {}),
    ...(Object.keys(extra).length ? { extra } : {}),
  };
}

function ortTensor(t: TensorLike): ort.Tensor {
  const d = t.data;
  const type = d instanceof Float32Array ? 'float32' : d instanceof Int32Array ? 'int32' : d instanceof BigInt64Array ? 'int64' : 'uint8';
  return new ort.Tensor(type, d, t.shape as number[]);
}

/** Writes `model.onnx` with its weights in `model.onnx.data` (ONNX external data) into `dir`. */
function writeOnnxFolder(graph: Graph, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const modelPath = join(dir, MODEL_FILE);
  writeFileSync(modelPath, toOnnx(graph, { externalDataPath: join(dir, `${MODEL_FILE}.data`) }));
  return modelPath;
}

const MODEL_FILE = 'model.onnx';

export class Session {
  private constructor(private readonly session: ort.InferenceSession) {}

  get inputNames(): readonly string[] { return this.session.inputNames; }

  /** Serialises the graph (weights inline, or as external data when large) and opens a session. */
  static async create(graph: Graph, opts: RuntimeOptions = {}, tuning: GraphTuning = {}): Promise<Session> {
    if (weightBytes(graph) < INLINE_WEIGHT_LIMIT) {
      return new Session(await ort.InferenceSession.create(toOnnx(graph), sessionOptions(opts, tuning)));
    }
    // Over protobuf's limit: model and weights go to a temporary folder, loaded by path.
    const dir = mkdtempSync(join(tmpdir(), 'clip-onnx-'));
    try {
      return new Session(await ort.InferenceSession.create(writeOnnxFolder(graph, dir), sessionOptions(opts, tuning)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /**
   * A session from the compiled model kept in `dir`, compiling `build()` into it first when it is
   * not there. The folder appears by an atomic rename, so a crash or a concurrent process never
   * leaves a half-written model behind; a second load skips reading weights and building the graph.
   */
  static async cached(dir: string, build: () => Graph | Promise<Graph>, opts: RuntimeOptions = {}): Promise<Session> {
    const modelPath = join(dir, MODEL_FILE);
    if (!existsSync(modelPath)) {
      const staging = `${dir}.tmp-${process.pid}-${Date.now()}`;
      try {
        writeOnnxFolder(await build(), staging);
        renameSync(staging, dir);
      } catch (e) {
        if (!existsSync(modelPath)) throw e; // otherwise another process finished the same model first
      } finally {
        rmSync(staging, { recursive: true, force: true });
      }
    }
    return new Session(await ort.InferenceSession.create(modelPath, sessionOptions(opts)));
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
