// One object that trains a CLIP model: the training graph in an ONNX Runtime session, the
// weights and BatchNorm buffers as float32 arrays fed to it each step, AdamW, the learning-rate
// schedule and the logit_scale clamp. `computeGradients` and `applyGradients` are the two halves
// of `trainStep`, separate so a caller (or a test) can look at the gradients in between.

import { ConfigError } from '../errors.js';
import type { ClipConfig } from '../models/config.js';
import { Session, type GraphTuning, type RuntimeOptions, type TensorLike } from '../runtime/session.js';
import { trimPadding } from '../inference/text-buckets.js';
import { fromFloat32, toFloat32, type RawTensor, type StateDict, type Tensor } from '../tensor.js';
import { AdamW, type AdamWOptions } from './adamw.js';
import { clipGradNorm } from './clip-grad-norm.js';
import { collectGarbage } from '../runtime/collect-garbage.js';
import { buildFeatureGraph, buildTrainGraph, type TrainGraphOptions } from './graph.js';
import { cosineLr, type CosineSchedule } from './schedule.js';
import { at, first } from '../checked.js';

export interface TrainerOptions extends TrainGraphOptions {
  optimizer?: AdamWOptions;
  /** Learning rate per step; a number is constant. Default: 5e-4 constant. */
  lr?: number | CosineSchedule;
  /** Clip the global gradient norm to this value (off by default). */
  clipGradNorm?: number;
  /**
   * Run the text tower only up to each (micro-)batch's last end-of-text token (default true):
   * the same loss and gradients as the full context (the causal mask and end-token pooling make
   * later positions invisible, and their gradients are zero), at a fraction of the cost on real captions.
   */
  trimPadding?: boolean;
  runtime?: RuntimeOptions;
}

export interface Batch {
  /** float32 [B, 3, R, R], preprocessed. */
  images: Tensor;
  /** int32 [B, contextLength]. */
  tokens: Tensor<Int32Array>;
}

export interface Gradients {
  loss: number;
  grads: Map<string, Float32Array>;
  /** BatchNorm running statistics after this batch's forward pass. */
  buffersAfter: Map<string, Float32Array>;
  /** Every output of the training graph (features, logits, partial losses). */
  outputs: Record<string, TensorLike>;
}

const LOGIT_SCALE_MAX = Math.log(100);

/** Models whose weights take at least this much get a garbage collection before each run (a few ms). */
const COLLECT_ABOVE_BYTES = 64 * 2 ** 20;

/**
 * In a training graph the weights are inputs, so ONNX Runtime cannot pre-pack them, and folding
 * a Transpose into MatMul/Gemm (transA/transB) sends MLAS down its slower transposed-operand path:
 * on [1600, 3072]ᵀ @ [1600, 768] (a ViT-B/32 weight gradient) 87-95 ms fused against 63-67 ms
 * with the Transpose kept as its own op; a whole ViT-B/32 step is ~25% faster without them.
 * The NCHWc layout transformer is off for accuracy: on a ResNet stem over near-flat images its
 * rewritten convolutions put train-mode BatchNorm gradients 8.3e-4 of each tensor's max away from
 * a float64 computation (1.1e-5 without it; test/batchnorm-grad-accuracy.test.ts), at some cost
 * in speed on ResNet steps (rn-tiny at batch 8: ~180 → ~230 ms, 2 busy shared cores).
 */
export const TRAINING_TUNING: GraphTuning = {
  disabledOptimizers: ['MatmulTransposeFusion', 'GemmTransposeFusion', 'NchwcTransformer'],
  memoryPattern: false,
};

export class Trainer {
  /** Trained parameters and BatchNorm buffers, by state-dict name (updated in place). */
  readonly weights = new Map<string, { data: Float32Array; shape: readonly number[] }>();
  /** BatchNorm forward passes since this trainer was created (added to each layer's num_batches_tracked). */
  batchesTracked = 0;
  readonly optimizer: AdamW;

  /** The state dict's names in order, for currentStateDict. */
  private readonly names: readonly string[];
  /**
   * The entries it does not train, as loaded. The rest of the loaded state dict is not kept: the
   * trained tensors live on as float32 in `weights`, and a caller that lets its state dict go
   * frees the loaded copy (for a float32 ViT-B/32, 600 MB of a training process).
   */
  private readonly untrained: StateDict = new Map();

  private constructor(
    private readonly session: Session,
    /** Features-only session for gradient accumulation (micro-batches). */
    private readonly featureSession: Session | undefined,
    stateDict: StateDict,
    readonly config: ClipConfig,
    readonly params: readonly string[],
    readonly buffers: readonly string[],
    private readonly opts: TrainerOptions,
  ) {
    this.optimizer = new AdamW(opts.optimizer);
    for (const name of [...params, ...buffers]) {
      const t = stateDict.get(name);
      if (!t) throw new ConfigError(`state dict is missing "${name}"`);
      this.weights.set(name, { data: toFloat32(t), shape: t.shape });
    }
    this.names = [...stateDict.keys()];
    for (const [name, t] of stateDict) if (!this.weights.has(name)) this.untrained.set(name, t);
  }

  static async create(stateDict: StateDict, config: ClipConfig, opts: TrainerOptions): Promise<Trainer> {
    const { graph, params, buffers } = buildTrainGraph(stateDict, config, opts);
    const session = await Session.create(graph, opts.runtime, TRAINING_TUNING);
    const micro = opts.microBatch !== undefined && opts.microBatch < opts.batchSize;
    const featureSession = micro
      ? await Session.create(buildFeatureGraph(stateDict, config, opts), opts.runtime, TRAINING_TUNING)
      : undefined;
    return new Trainer(session, featureSession, stateDict, config, params, buffers, opts);
  }

  /** Steps taken so far. */
  get step(): number {
    return this.optimizer.state.step;
  }

  learningRate(step = this.step): number {
    const lr = this.opts.lr ?? 5e-4;
    return typeof lr === 'number' ? lr : cosineLr(lr, step);
  }

  /** Forward and backward pass on one batch; the weights do not change. */
  async computeGradients(batch: Batch): Promise<Gradients> {
    const B = this.opts.batchSize;
    if (batch.images.shape[0] !== B || batch.tokens.shape[0] !== B) {
      throw new ConfigError(
        `the trainer was built for batches of ${B}, ` +
          `got ${batch.images.shape[0]} images and ${batch.tokens.shape[0]} captions`,
      );
    }
    const L = this.config.text.contextLength;
    if (batch.tokens.shape.length !== 2 || batch.tokens.shape[1] !== L) {
      throw new ConfigError(
        `batch tokens must be [${B}, ${L}] (the model's context length), got [${batch.tokens.shape.join(', ')}]`,
      );
    }
    const weights: Record<string, TensorLike> = {};
    let bytes = 0;
    for (const [name, w] of this.weights) {
      weights[name] = w;
      bytes += w.data.byteLength;
    }
    // The previous step's gradients are garbage now (unless the caller kept them): free them
    // before the run instead of holding them through its peak (see collect-garbage.ts).
    if (bytes >= COLLECT_ABOVE_BYTES) collectGarbage();
    const pick = (outputs: Record<string, TensorLike>, prefix: string, names: readonly string[]) =>
      new Map(names.map((n) => [n, floatOutput(outputs, prefix + n)]));
    const { microBatch } = this.opts;
    if (!this.featureSession || microBatch === undefined) {
      const outputs = await this.session.run({ ...weights, images: batch.images, tokens: this.trimmed(batch.tokens) });
      return {
        loss: lossOf(outputs),
        grads: pick(outputs, 'grad.', this.params),
        buffersAfter: pick(outputs, 'buffers_after.', this.buffers),
        outputs,
      };
    }
    return this.accumulate(batch, weights, pick, this.featureSession, microBatch);
  }

  private trimmed(tokens: Tensor<Int32Array>): Tensor<Int32Array> {
    return this.opts.trimPadding === false ? tokens : trimPadding(tokens);
  }

  /**
   * Gradient accumulation over micro-batches: features first, then one backward pass each (see
   * TrainGraphOptions.microBatch).
   */
  private async accumulate(
    batch: Batch,
    weights: Record<string, TensorLike>,
    pick: (o: Record<string, TensorLike>, prefix: string, names: readonly string[]) => Map<string, Float32Array>,
    featureSession: Session,
    b: number,
  ): Promise<Gradients> {
    const B = this.opts.batchSize;
    const rows = <T extends Float32Array | Int32Array>(t: Tensor<T>, j: number): Tensor<T> => {
      const per = t.data.length / B;
      return { data: t.data.slice(j * b * per, (j + 1) * b * per) as T, shape: [b, ...t.shape.slice(1)] };
    };
    const E = this.config.embedDim;
    const imageAll = new Float32Array(B * E);
    const textAll = new Float32Array(B * E);
    for (let j = 0; j < B / b; j++) {
      const f = await featureSession.run({
        ...weights,
        images: rows(batch.images, j),
        tokens: this.trimmed(rows(batch.tokens, j)),
      });
      imageAll.set(floatOutput(f, 'image_features'), j * b * E);
      textAll.set(floatOutput(f, 'text_features'), j * b * E);
    }
    const grads = new Map(this.params.map((n) => [n, new Float32Array(this.weight(n).data.length)]));
    let buffersAfter = new Map<string, Float32Array>();
    let outputs: Record<string, TensorLike> = {};
    for (let j = 0; j < B / b; j++) {
      const placement = new Float32Array(B * b);
      for (let c = 0; c < b; c++) placement[(j * b + c) * b + c] = 1;
      const buffers = Object.fromEntries([...buffersAfter].map(([n, d]) => [n, { data: d, shape: [d.length] }]));
      outputs = await this.session.run({
        ...weights,
        ...buffers,
        images: rows(batch.images, j),
        tokens: this.trimmed(rows(batch.tokens, j)),
        placement: { data: placement, shape: [B, b] },
        image_features_all: { data: imageAll, shape: [B, E] },
        text_features_all: { data: textAll, shape: [B, E] },
      });
      for (const [n, d] of pick(outputs, 'grad.', this.params)) {
        const sum = grads.get(n);
        if (!sum) throw new Error(`the training graph gave a gradient for "${n}", which it does not train`);
        // logit_scale acts on the whole batch's logits in every pass: its gradient is the full
        // batch's each time, so it is taken once (summing would count it once per micro-batch).
        if (n === 'logit_scale') {
          sum.set(d);
          continue;
        }
        for (let i = 0; i < sum.length; i++) sum[i] = at(sum, i) + at(d, i);
      }
      buffersAfter = pick(outputs, 'buffers_after.', this.buffers);
    }
    return { loss: lossOf(outputs), grads, buffersAfter, outputs };
  }

  /**
   * Clips (if asked), takes an AdamW step at the scheduled rate, clamps logit_scale to [0, ln 100],
   * stores the new buffers.
   */
  applyGradients(g: Gradients): { lr: number; gradNorm?: number } {
    const gradNorm =
      this.opts.clipGradNorm !== undefined ? clipGradNorm(g.grads.values(), this.opts.clipGradNorm) : undefined;
    const lr = this.learningRate();
    const trained = new Map(this.params.map((n) => [n, this.weight(n)]));
    this.optimizer.step(trained, g.grads, lr);
    const scale = this.weights.get('logit_scale');
    if (scale) scale.data[0] = Math.min(Math.max(first(scale.data), 0), LOGIT_SCALE_MAX);
    for (const [name, data] of g.buffersAfter) this.weight(name).data.set(data);
    // One BatchNorm forward per (micro-)batch with a gradient, as torch counts them.
    if (g.buffersAfter.size > 0)
      this.batchesTracked += this.opts.batchSize / (this.opts.microBatch ?? this.opts.batchSize);
    return { lr, ...(gradNorm !== undefined ? { gradNorm } : {}) };
  }

  /** One training step; returns the loss before the update. */
  async trainStep(batch: Batch): Promise<{ loss: number; lr: number; gradNorm?: number }> {
    const g = await this.computeGradients(batch);
    return { loss: g.loss, ...this.applyGradients(g) };
  }

  /** The model's state dict with the current weights (float32), frozen ones as loaded. */
  currentStateDict(): StateDict {
    const out: StateDict = new Map();
    for (const name of this.names) {
      const w = this.weights.get(name);
      const t = this.untrained.get(name);
      if (w) out.set(name, fromFloat32(w.data.slice(), w.shape));
      else if (t && name.endsWith('num_batches_tracked') && this.buffers.length > 0)
        out.set(name, int64Scalar(this.batchesTracked + initialCount(t)));
      else if (t) out.set(name, t);
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
    await this.featureSession?.release();
  }

  /** A trained parameter or buffer by name. */
  private weight(name: string): { data: Float32Array; shape: readonly number[] } {
    const w = this.weights.get(name);
    if (!w) throw new Error(`"${name}" is not a trained parameter or buffer`);
    return w;
  }
}

/** A float32 output of a training-graph run by name (a missing one is a graph bug, not bad input). */
function floatOutput(outputs: Record<string, TensorLike>, name: string): Float32Array {
  const data = outputs[name]?.data;
  if (!(data instanceof Float32Array)) throw new Error(`the training graph gave no float32 output "${name}"`);
  return data;
}

const lossOf = (outputs: Record<string, TensorLike>): number => first(floatOutput(outputs, 'loss'));

function initialCount(t: RawTensor): number {
  return t.dtype === 'int64' ? Number(new BigInt64Array(t.bytes.slice().buffer)[0]) : 0;
}

function int64Scalar(n: number): RawTensor {
  return { dtype: 'int64', shape: [], bytes: new Uint8Array(BigInt64Array.of(BigInt(n)).buffer) };
}
