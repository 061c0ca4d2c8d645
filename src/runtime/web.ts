// The browser's runtime: onnxruntime-web (same version line as onnxruntime-node) running the very
// ONNX graphs Node builds, on its WebAssembly backend (SIMD; threads when the page is
// cross-origin isolated) or WebGPU. The only file besides session.ts that knows which ONNX Runtime.

import * as ort from 'onnxruntime-web';
import { InputError } from '../errors.js';
import type { Graph } from '../graph/ir.js';
import { toOnnx, weightBytes } from '../graph/onnx.js';
import { OrtSession, type TensorLike } from './ort-session.js';

export type WebExecutionProvider = 'wasm' | 'webgpu';

export interface WebRuntimeOptions {
  /** ['wasm'] (default) or ['webgpu'] (falls back to nothing: an unavailable adapter is an error). */
  executionProviders?: readonly WebExecutionProvider[];
  /**
   * WebAssembly threads. Default: ONNX Runtime's choice (up to 4 when the page is cross-origin
   * isolated, else 1). More than 1 needs COOP/COEP headers (SharedArrayBuffer).
   */
  threads?: number;
  /**
   * Where onnxruntime-web's files are: a URL prefix ending in '/' (holding
   * ort-wasm-simd-threaded.jsep.{mjs,wasm}), or the URL of each.
   */
  wasmPaths?: string | { mjs?: string; wasm?: string };
}

/** Settings that are page-wide in onnxruntime-web and fixed once its WebAssembly starts: the first model's. */
let configured: string | undefined;

function configure(opts: WebRuntimeOptions): void {
  if (opts.threads !== undefined && (!Number.isInteger(opts.threads) || opts.threads < 1)) {
    throw new InputError(`threads must be a positive integer, got ${opts.threads}`);
  }
  const key = JSON.stringify([opts.threads, opts.wasmPaths]);
  if (configured !== undefined) {
    if (configured !== key)
      console.warn(`clip-ts: threads and wasmPaths stay as the first model on this page set them (${configured})`);
    return;
  }
  if (opts.threads !== undefined) ort.env.wasm.numThreads = opts.threads;
  if (opts.wasmPaths !== undefined) ort.env.wasm.wasmPaths = opts.wasmPaths;
  ort.env.logLevel = 'error'; // not the warning that shape ops stay on the CPU under WebGPU
  configured = key;
}

/** The end of the last queued run: all sessions share one WebAssembly instance, which runs one at a time. */
let lastRun: Promise<unknown> = Promise.resolve();

/** A session whose runs wait for every earlier run on the page (onnxruntime-web refuses concurrent ones). */
class WebSession extends OrtSession {
  override run(feeds: Record<string, TensorLike>, outputs?: string[]): Promise<Record<string, TensorLike>> {
    const run = lastRun.catch(() => undefined).then(() => super.run(feeds, outputs));
    lastRun = run;
    return run;
  }
}

/** Protobuf messages cannot exceed 2 GiB, and the browser has no external-data path: stay well below it. */
const INLINE_WEIGHT_LIMIT = 1.5 * 2 ** 30;

/** Serialises the graph with its weights inline and opens an onnxruntime-web session. */
export async function openWebSession(graph: Graph, opts: WebRuntimeOptions = {}): Promise<OrtSession> {
  configure(opts);
  if (weightBytes(graph) >= INLINE_WEIGHT_LIMIT) {
    throw new InputError(
      `the model's weights (${(weightBytes(graph) / 2 ** 30).toFixed(1)} GiB) are too large for the browser runtime`,
    );
  }
  const providers = [...(opts.executionProviders ?? ['wasm'])];
  // WebGPU's FusedMatMul(transB) is wrong in onnxruntime-web (see OnnxOptions): plain MatMuls there.
  const onnx = toOnnx(graph, { fuseTransposedWeights: !providers.includes('webgpu') });
  const session = await ort.InferenceSession.create(onnx, {
    executionProviders: providers,
    graphOptimizationLevel: 'all',
  });
  return new WebSession(session, ort.Tensor);
}
