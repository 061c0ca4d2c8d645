// The training graph: both towers and the CLIP loss in one graph, its backward pass (graph/grad),
// and the BatchNorm running-statistics updates, so that one ONNX Runtime call returns the loss,
// every gradient and the new buffers. Trainable weights and BatchNorm buffers become graph
// inputs (fed each step from the optimiser's arrays); frozen weights stay initializers.

import { grad } from '../graph/grad.js';
import { Graph, type Value } from '../graph/ir.js';
import { runningStatUpdates } from '../graph/nn-train.js';
import type { ClipConfig } from '../models/config.js';
import { Params } from '../models/params.js';
import { imageTower, textTower } from '../models/towers.js';
import { ConfigError } from '../errors.js';
import type { StateDict } from '../tensor.js';
import { clipLoss } from './loss.js';

export interface TrainGraphOptions {
  /** Pairs per step; fixed, since train-mode BatchNorm needs the count for its unbiased variance. */
  batchSize: number;
  /**
   * Gradient accumulation: run the towers on micro-batches of this size (dividing batchSize).
   * Features are accumulated, not losses (as open_clip's --accum-freq): a features-only pass over
   * every micro-batch first, then one backward pass per micro-batch whose loss is the full
   * batch's, with that micro-batch's rows of the feature matrices recomputed differentiably and
   * the others fed as constants; the summed gradients are the full batch's (BatchNorm statistics
   * are then per micro-batch, as in open_clip).
   */
  microBatch?: number;
  /** Towers whose weights are not trained (a frozen ResNet tower also keeps BatchNorm in eval mode). */
  freeze?: { image?: boolean; text?: boolean };
}

export interface TrainGraph {
  graph: Graph;
  /** State-dict names of the trained parameters: graph inputs, with outputs `grad.<name>`. */
  params: string[];
  /** State-dict names of BatchNorm running statistics: graph inputs, with outputs `buffers_after.<name>`. */
  buffers: string[];
}

/** Turns an initializer into a graph input of the same name (its value is then fed per run). */
function promoteToInput(graph: Graph, v: Value): string {
  const init = graph.initializers.get(v.id);
  if (!init) throw new Error(`value ${v.id} is not a weight`);
  graph.initializers.delete(v.id);
  graph.inputs.push({ name: init.name, value: v });
  return init.name;
}

function checkOptions(cfg: ClipConfig, opts: TrainGraphOptions): number {
  const B = opts.batchSize;
  const b = opts.microBatch ?? B;
  if (!Number.isInteger(B) || B < 2)
    throw new ConfigError(`batchSize must be an integer ≥ 2 (a contrastive batch), got ${B}`);
  if (!Number.isInteger(b) || b < 1 || B % b !== 0)
    throw new ConfigError(`microBatch must divide batchSize ${B}, got ${b}`);
  if (cfg.text.kind === 'bert')
    throw new ConfigError('training supports the OpenAI text transformer, not BERT text towers');
  return b;
}

/**
 * Both towers on inputs `images` [b, 3, R, R] and `tokens` [b, seq], seq ≤ contextLength: callers
 * may cut the padding after a batch's last end token (exact, see models/text.ts).
 */
function towers(g: Graph, sd: StateDict, cfg: ClipConfig, b: number, opts: TrainGraphOptions) {
  const R = cfg.vision.imageResolution;
  const images = g.input('images', 'float32', [b, 3, R, R]);
  const tokens = g.input('tokens', 'int32', [b, 'seq']);
  const imageFeatures = imageTower(images, new Params(g, sd, 'visual.'), cfg, !opts.freeze?.image);
  const textParams = new Params(g, sd, '');
  const textFeatures = textTower(tokens, textParams, cfg);
  return { imageFeatures, textFeatures, logitScale: textParams.get('logit_scale', []) };
}

function trainedNames(g: Graph, sd: StateDict, opts: TrainGraphOptions): Value[] {
  return [...g.initializers.values()]
    .filter(({ name }) => {
      if (!sd.has(name) || /running_(mean|var)$/.test(name)) return false;
      return name.startsWith('visual.') ? !opts.freeze?.image : !opts.freeze?.text;
    })
    .map((t) => t.value);
}

/**
 * Inputs `images` float32 [b, 3, R, R] and `tokens` int32 [b, seq] (b = microBatch ?? batchSize,
 * seq ≤ contextLength); outputs `loss`, `loss_image`, `loss_text`, `image_features`, `text_features`,
 * `logits_per_image`, `grad.<param>` and `buffers_after.<buffer>`. With micro-batches it also
 * takes `image_features_all` and `text_features_all` [B, E] (from buildFeatureGraph) and
 * `placement` [B, b], one-hot: row r of the batch is row c of this micro-batch where placement[r, c] = 1;
 * rows with no 1 keep their fed features.
 */
export function buildTrainGraph(sd: StateDict, cfg: ClipConfig, opts: TrainGraphOptions): TrainGraph {
  const b = checkOptions(cfg, opts);
  const B = opts.batchSize;
  const g = new Graph();
  const micro = towers(g, sd, cfg, b, opts);
  let { imageFeatures, textFeatures } = micro;
  if (b < B) {
    const placement = g.input('placement', 'float32', [B, b]);
    const others = placement.sum([1], true).neg().add(1); // [B, 1]: 1 where the row is not this micro-batch's
    const merge = (all: Value, mine: Value) => all.mul(others).add(placement.matmul(mine));
    imageFeatures = merge(g.input('image_features_all', 'float32', [B, cfg.embedDim]), imageFeatures);
    textFeatures = merge(g.input('text_features_all', 'float32', [B, cfg.embedDim]), textFeatures);
  }
  const { loss, lossImage, lossText, logitsPerImage } = clipLoss(imageFeatures, textFeatures, micro.logitScale);

  const trained = trainedNames(g, sd, opts);
  const grads = grad(g, loss, trained);
  const params = trained.map((v) => promoteToInput(g, v));
  grads.forEach((gv, i) => g.output(`grad.${params[i]}`, gv));
  const buffers = runningStatUpdates(g).map(({ buffer, updated }) => {
    const name = promoteToInput(g, buffer);
    g.output(`buffers_after.${name}`, updated);
    return name;
  });
  g.output('loss', loss);
  g.output('loss_image', lossImage);
  g.output('loss_text', lossText);
  g.output('image_features', micro.imageFeatures);
  g.output('text_features', micro.textFeatures);
  g.output('logits_per_image', logitsPerImage);
  return { graph: g, params, buffers };
}

/** The towers alone on a micro-batch (same inputs as the training graph): `image_features`, `text_features`. */
export function buildFeatureGraph(sd: StateDict, cfg: ClipConfig, opts: TrainGraphOptions): Graph {
  const b = checkOptions(cfg, opts);
  const g = new Graph();
  const { imageFeatures, textFeatures } = towers(g, sd, cfg, b, opts);
  for (const v of trainedNames(g, sd, opts)) promoteToInput(g, v);
  for (const { buffer } of runningStatUpdates(g)) promoteToInput(g, buffer);
  g.output('image_features', imageFeatures);
  g.output('text_features', textFeatures);
  return g;
}
