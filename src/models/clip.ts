// CLIP as graphs: the image tower (ViT or ModifiedResNet) and the text tower of a config, each
// built into its own graph in our IR with the checkpoint's weights. Running them is inference/'s.

import { Graph, type Value } from '../graph/ir.js';
import { toFloat32, type StateDict } from '../tensor.js';
import type { ClipConfig, ImageOutput } from './config.js';
import { Params, type ParamFiller } from './params.js';
import { imageTower, textTower } from './towers.js';

export interface TowerGraphOptions {
  /** Also output every tapped activation (`act.*`), for parity checks. */
  activations?: boolean;
  /** Creates missing weights (random-weight models); see random.ts. */
  fill?: ParamFiller;
  /** Text graph takes tokens [batch, seq] of any length ≤ contextLength (see inference/text-buckets.ts). */
  dynamicLength?: boolean;
  /** Image graph: the embedding (default) or the features before the projection (see ImageOutput). */
  imageOutput?: ImageOutput;
}

function finish(g: Graph, output: string, value: Value, opts: TowerGraphOptions): Graph {
  g.output(output, value);
  if (opts.activations) for (const [name, v] of g.taps) g.output(name, v);
  return g;
}

/** The image tower as a graph: input `images` float32 [batch, 3, R, R] → `image_features`. */
export function buildImageGraph(sd: StateDict, cfg: ClipConfig, opts: TowerGraphOptions = {}): Graph {
  const g = new Graph();
  const R = cfg.vision.imageResolution;
  const images = g.input('images', 'float32', ['batch', 3, R, R]);
  const p = new Params(g, sd, 'visual.', opts.fill);
  const features = imageTower(images, p, cfg, false, opts.imageOutput);
  return finish(g, 'image_features', g.tap('act.visual.output', features), opts);
}

/** The text tower as a graph: input `tokens` int32 [batch, contextLength] → `text_features`. */
export function buildTextGraph(sd: StateDict, cfg: ClipConfig, opts: TowerGraphOptions = {}): Graph {
  const g = new Graph();
  const tokens = g.input('tokens', 'int32', ['batch', opts.dynamicLength ? 'seq' : cfg.text.contextLength]);
  const p = new Params(g, sd, '', opts.fill);
  return finish(g, 'text_features', textTower(tokens, p, cfg), opts);
}

/** The stored log temperature (CLIP's initial ln(1/0.07) if the checkpoint has none). */
export function logitScaleOf(sd: StateDict): number {
  const scale = sd.get('logit_scale');
  return scale ? toFloat32(scale)[0]! : Math.log(1 / 0.07);
}
