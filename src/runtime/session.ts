// One small interface over ONNX Runtime: build a session from an IR graph, run it on plain
// typed-array tensors. Device and thread settings live here and nowhere else.

import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { collectGarbage } from './collect-garbage.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Graph } from '../graph/ir.js';
import { toOnnx, weightBytes } from '../graph/onnx.js';
import { OrtSession } from './ort-session.js';

export type { TensorLike, TowerSession } from './ort-session.js';
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
  /**
   * ONNX Runtime's memory pattern (default on): the activation layout planned from the previous
   * run of the same input shapes, allocated as one block per run.
   */
  memoryPattern?: boolean;
}

function sessionOptions(opts: RuntimeOptions, tuning: GraphTuning = {}): ort.InferenceSession.SessionOptions {
  checkCommandLineForOnnxRuntime(); // every session is opened with these options
  // `extra` entries become ONNX Runtime session config keys ("session.intra_op.allow_spinning", ...).
  const extra = {
    ...(opts.spinning === false ? { session: { intra_op: { allow_spinning: '0' } } } : {}),
    ...(tuning.disabledOptimizers?.length
      ? { optimization: { disable_specified_optimizers: tuning.disabledOptimizers.join(';') } }
      : {}),
  };
  return {
    executionProviders: [opts.device === 'cuda' ? 'cuda' : 'cpu'],
    graphOptimizationLevel: opts.optimization ?? 'all',
    // No CPU arena: activations are allocated per run and freed to the system. The arena kept the
    // largest run's blocks for good (ViT-B/32 image + text at batch 32: peak RSS 953 → 856 MB)
    // and bought no speed we could measure (image b32 3.12 vs 3.05 CPU-s per encode).
    enableCpuMemArena: false,
    ...(tuning.memoryPattern === false ? { enableMemPattern: false } : {}),
    ...(opts.threads ? { intraOpNumThreads: opts.threads } : {}),
    ...(Object.keys(extra).length ? { extra } : {}),
  };
}

/** Writes `model.onnx` with its weights in `model.onnx.data` (ONNX external data) into `dir`. */
function writeOnnxFolder(graph: Graph, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const modelPath = join(dir, MODEL_FILE);
  writeFileSync(modelPath, toOnnx(graph, { externalDataPath: join(dir, `${MODEL_FILE}.data`) }));
  return modelPath;
}

const MODEL_FILE = 'model.onnx';

/**
 * Graphs with more weight bytes than this go to ONNX Runtime through a temporary folder with
 * external data, written one tensor at a time, rather than as one protobuf message in memory:
 * a model's float32 weights then never all exist in JavaScript (see Initializer in graph/ir.ts),
 * and protobuf's 2 GiB limit never applies. Small graphs (tests, tiny models) stay in memory.
 */
const IN_MEMORY_WEIGHT_LIMIT = 64 * 2 ** 20;

export class Session extends OrtSession {
  private constructor(session: ort.InferenceSession) {
    super(session, ort.Tensor);
  }

  /** Serialises the graph (weights inline, or as external data when large) and opens a session. */
  static async create(graph: Graph, opts: RuntimeOptions = {}, tuning: GraphTuning = {}): Promise<Session> {
    if (weightBytes(graph) < IN_MEMORY_WEIGHT_LIMIT) {
      return new Session(await ort.InferenceSession.create(toOnnx(graph), sessionOptions(opts, tuning)));
    }
    const dir = mkdtempSync(join(tmpdir(), 'clip-onnx-'));
    try {
      const modelPath = writeOnnxFolder(graph, dir);
      collectGarbage(); // see cached
      return new Session(await ort.InferenceSession.create(modelPath, sessionOptions(opts, tuning)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** Whether `dir` holds a compiled model (see cached). */
  static isCached(dir: string): boolean {
    return existsSync(join(dir, MODEL_FILE));
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
      // The weights as read and converted are garbage now, but V8 has no reason to collect them
      // before ONNX Runtime maps and prepacks the written ones, which it cannot see: they could
      // still be resident at the load's peak (ViT-B/32: up to ~100 MB more, measured).
      collectGarbage();
    }
    return new Session(await ort.InferenceSession.create(modelPath, sessionOptions(opts)));
  }
}
