// CLIP: an image tower (ViT or ModifiedResNet) and a text tower, each compiled on first use by
// the runtime the caller supplies (onnxruntime-node in clip.ts, onnxruntime-web in src/web);
// `forward` gives the reference's scaled cosine logits. Nothing here depends on the platform.

import { InputError } from '../errors.js';
import { Graph, type Value } from '../graph/ir.js';
import { quantizeWeightMatmuls } from '../graph/quantize.js';
import type { TowerSession } from '../runtime/ort-session.js';
import { toFloat32, type StateDict, type Tensor } from '../tensor.js';
import { inferConfigFromStateDict, type ClipConfig } from './config.js';
import { Params, type ParamFiller } from './params.js';
import { encodeImageResNet } from './resnet.js';
import { encodeTextBert } from './bert.js';
import { encodeText } from './text.js';
import { encodeImageViT } from './vit.js';

export interface TowerGraphOptions {
  /** Also output every tapped activation (`act.*`), for parity checks. */
  activations?: boolean;
  /** Creates missing weights (random-weight models); see random.ts. */
  fill?: ParamFiller;
  /** Text graph takes tokens [batch, seq] of any length ≤ contextLength (see encodeText). */
  dynamicLength?: boolean;
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
  const features = cfg.vision.kind === 'vit'
    ? encodeImageViT(images, p, cfg.vision, cfg.embedDim, cfg.activation)
    : encodeImageResNet(images, p, cfg.vision, cfg.embedDim);
  return finish(g, 'image_features', g.tap('act.visual.output', features), opts);
}

/** The text tower as a graph: input `tokens` int32 [batch, contextLength] → `text_features`. */
export function buildTextGraph(sd: StateDict, cfg: ClipConfig, opts: TowerGraphOptions = {}): Graph {
  const g = new Graph();
  const tokens = g.input('tokens', 'int32', ['batch', opts.dynamicLength ? 'seq' : cfg.text.contextLength]);
  const p = new Params(g, sd, '', opts.fill);
  const features = cfg.text.kind === 'bert' ? encodeTextBert(tokens, p, cfg.text, cfg.embedDim) : encodeText(tokens, p, cfg.text, cfg.embedDim, cfg.activation);
  return finish(g, 'text_features', features, opts);
}

/** Rows divided by their L2 norm. */
export function normalizeRows(t: Tensor): Tensor {
  const [n, d] = t.shape as [number, number];
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    let ss = 0;
    for (let j = 0; j < d; j++) ss += t.data[i * d + j]! ** 2;
    const norm = Math.sqrt(ss);
    for (let j = 0; j < d; j++) out[i * d + j] = t.data[i * d + j]! / norm;
  }
  return { data: out, shape: [n, d] };
}

export interface ClipLogits {
  /** [images, texts]: exp(logit_scale) · cos(image, text). */
  logitsPerImage: Tensor;
  /** [texts, images]: the transpose. */
  logitsPerText: Tensor;
}

/** exp(logitScale) · normalised image features @ normalised text featuresᵀ, and its transpose. */
export function clipLogits(imageFeatures: Tensor, textFeatures: Tensor, logitScale: number): ClipLogits {
  const img = normalizeRows(imageFeatures);
  const txt = normalizeRows(textFeatures);
  const [ni, d] = img.shape as [number, number];
  const nt = txt.shape[0]!;
  const scale = Math.exp(logitScale);
  const perImage = new Float32Array(ni * nt);
  const perText = new Float32Array(nt * ni);
  for (let i = 0; i < ni; i++) {
    for (let t = 0; t < nt; t++) {
      let dot = 0;
      for (let k = 0; k < d; k++) dot += img.data[i * d + k]! * txt.data[t * d + k]!;
      perImage[i * nt + t] = perText[t * ni + i] = scale * dot;
    }
  }
  return { logitsPerImage: { data: perImage, shape: [ni, nt] }, logitsPerText: { data: perText, shape: [nt, ni] } };
}

/**
 * How many leading positions of row `r` can change its features. OpenAI's tower is causal and
 * pools at the row's end token (its highest id): later positions are invisible. BERT masks [PAD]
 * (id 0) keys with -10000, whose softmax weight is exactly 0 in float32, and pools at [CLS]:
 * trailing [PAD]s are invisible.
 */
function usedLength(tokens: Tensor<Int32Array>, r: number, kind: 'transformer' | 'bert'): number {
  const L = tokens.shape[1]!;
  let last = 0;
  for (let j = 1; j < L; j++) {
    const id = tokens.data[r * L + j]!;
    if (kind === 'bert' ? id !== 0 : id > tokens.data[r * L + last]!) last = j;
  }
  return last + 1;
}

/** The rows `rows` of `tokens`, cut to the longest used length among them (an exact saving). */
export function trimPadding(tokens: Tensor<Int32Array>, kind: 'transformer' | 'bert' = 'transformer', rows?: readonly number[]): Tensor<Int32Array> {
  const L = tokens.shape[1]!;
  const picked = rows ?? [...Array(tokens.shape[0]!).keys()];
  const length = Math.max(1, ...picked.map((r) => usedLength(tokens, r, kind)));
  if (length === L && !rows) return tokens;
  const data = new Int32Array(picked.length * length);
  picked.forEach((r, i) => data.set(tokens.data.subarray(r * L, r * L + length), i * length));
  return { data, shape: [picked.length, length] };
}

/** Rows per text-tower run when a batch is split by length (big enough for efficient GEMMs). */
const TEXT_BUCKET_ROWS = 8;

/**
 * Row indices grouped by used length (shortest first, TEXT_BUCKET_ROWS per group), so short
 * captions do not run at the length of the batch's longest one.
 */
export function lengthBuckets(tokens: Tensor<Int32Array>, kind: 'transformer' | 'bert'): number[][] {
  const lengths = Array.from({ length: tokens.shape[0]! }, (_, r) => usedLength(tokens, r, kind));
  const order = [...lengths.keys()].sort((a, b) => lengths[a]! - lengths[b]! || a - b);
  const buckets: number[][] = [];
  for (let i = 0; i < order.length; i += TEXT_BUCKET_ROWS) buckets.push(order.slice(i, i + TEXT_BUCKET_ROWS));
  return buckets;
}

/** The stored log temperature (CLIP's initial ln(1/0.07) if the checkpoint has none). */
export function logitScaleOf(sd: StateDict): number {
  const scale = sd.get('logit_scale');
  return scale ? toFloat32(scale)[0]! : Math.log(1 / 0.07);
}

/** Weights read only if a tower has to be compiled (its compiled model is not in the cache). */
export interface LazyWeights {
  config: ClipConfig;
  logitScale: number;
  load: () => Promise<StateDict>;
}

export type Precision = 'fp32' | 'int8';

/**
 * Compiles a tower into a runnable session. `build` gives its graph (with int8 weight matmuls
 * when `precision` asks for them); `name` ('image', 'text', 'image-int8', ...) names it in caches.
 */
export type OpenTower = (name: string, build: () => Promise<Graph>) => Promise<TowerSession>;

export class ClipModel {
  readonly config: ClipConfig;
  /** The learned temperature, as stored: a log (logits use exp(logitScale)). */
  readonly logitScale: number;
  private readonly stateDict: () => Promise<StateDict>;
  private imageSession?: Promise<TowerSession>;
  private textSession?: Promise<TowerSession>;

  /**
   * `precision`: 'fp32' (default, matches the reference) or 'int8': weight matmuls with int8
   * weights and dynamically quantized activations (graph/quantize.ts): faster, not exact.
   */
  constructor(weights: StateDict | LazyWeights, private readonly openTower: OpenTower, config?: ClipConfig, private readonly precision: Precision = 'fp32') {
    if (weights instanceof Map) {
      this.config = config ?? inferConfigFromStateDict(weights);
      this.logitScale = logitScaleOf(weights);
      this.stateDict = async () => weights;
    } else {
      this.config = config ?? weights.config;
      this.logitScale = weights.logitScale;
      let loading: Promise<StateDict> | undefined;
      this.stateDict = () => (loading ??= weights.load());
    }
  }

  private session(tower: 'image' | 'text'): Promise<TowerSession> {
    const int8 = this.precision === 'int8';
    const build = async () => {
      const sd = await this.stateDict();
      const graph = tower === 'image' ? buildImageGraph(sd, this.config) : buildTextGraph(sd, this.config, { dynamicLength: true });
      if (int8) quantizeWeightMatmuls(graph);
      return graph;
    };
    return this.openTower(int8 ? `${tower}-int8` : tower, build);
  }

  /** images float32 [N, 3, R, R] (preprocessed) → features [N, embedDim]. */
  async encodeImage(images: Tensor): Promise<Tensor> {
    const R = this.config.vision.imageResolution;
    const [n, c, h, w] = images.shape;
    if (images.shape.length !== 4 || c !== 3 || h !== R || w !== R) {
      throw new InputError(`encodeImage expects images [N, 3, ${R}, ${R}], got [${images.shape.join(', ')}]`);
    }
    if (n === 0) return { data: new Float32Array(0), shape: [0, this.config.embedDim] };
    this.imageSession ??= this.session('image');
    const out = await (await this.imageSession).run({ images });
    return out.image_features as Tensor;
  }

  /** tokens int32 [N, contextLength] (from tokenize) → features [N, embedDim]. */
  async encodeText(tokens: Tensor<Int32Array>): Promise<Tensor> {
    const L = this.config.text.contextLength;
    if (tokens.shape.length !== 2 || tokens.shape[1] !== L) {
      throw new InputError(`encodeText expects tokens [N, ${L}], got [${tokens.shape.join(', ')}]`);
    }
    if (!(tokens.data instanceof Int32Array)) throw new InputError('encodeText expects int32 token ids (an Int32Array)');
    const { vocabSize } = this.config.text;
    const bad = tokens.data.findIndex((id) => id < 0 || id >= vocabSize);
    if (bad >= 0) throw new InputError(`token id ${tokens.data[bad]} at row ${Math.floor(bad / L)} is outside the vocabulary [0, ${vocabSize})`);
    if (tokens.shape[0] === 0) return { data: new Float32Array(0), shape: [0, this.config.embedDim] };
    this.textSession ??= this.session('text');
    const session = await this.textSession;
    const { kind } = this.config.text;
    const D = this.config.embedDim;
    const features = new Float32Array(tokens.shape[0]! * D);
    for (const rows of lengthBuckets(tokens, kind)) {
      const out = await session.run({ tokens: trimPadding(tokens, kind, rows) });
      const part = out.text_features!.data as Float32Array;
      rows.forEach((r, i) => features.set(part.subarray(i * D, (i + 1) * D), r * D));
    }
    return { data: features, shape: [tokens.shape[0]!, D] };
  }

  /** The reference `model(image, text)`: scaled cosine similarities both ways. */
  async forward(images: Tensor, tokens: Tensor<Int32Array>): Promise<ClipLogits> {
    const [img, txt] = await Promise.all([this.encodeImage(images), this.encodeText(tokens)]);
    return clipLogits(img, txt, this.logitScale);
  }

  /** Frees the runtime sessions. */
  async release(): Promise<void> {
    for (const s of [this.imageSession, this.textSession]) if (s) await (await s).release();
    this.imageSession = this.textSession = undefined;
  }
}
