// CLIP: an image tower (ViT or ModifiedResNet) and a text tower, each compiled to its own
// ONNX Runtime session on first use; `forward` gives the reference's scaled cosine logits.

import { join } from 'node:path';
import { InputError } from '../errors.js';
import { Graph, type Value } from '../graph/ir.js';
import { Session, type RuntimeOptions } from '../runtime/session.js';
import { toFloat32, type StateDict, type Tensor } from '../tensor.js';
import { inferConfigFromStateDict, type ClipConfig } from './config.js';
import { Params, type ParamFiller } from './params.js';
import { imageTower, textTower } from './towers.js';
import { quantizeTower } from './int8.js';

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
  return finish(g, 'image_features', g.tap('act.visual.output', imageTower(images, p, cfg)), opts);
}

/** The text tower as a graph: input `tokens` int32 [batch, contextLength] → `text_features`. */
export function buildTextGraph(sd: StateDict, cfg: ClipConfig, opts: TowerGraphOptions = {}): Graph {
  const g = new Graph();
  const tokens = g.input('tokens', 'int32', ['batch', opts.dynamicLength ? 'seq' : cfg.text.contextLength]);
  const p = new Params(g, sd, '', opts.fill);
  return finish(g, 'text_features', textTower(tokens, p, cfg), opts);
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

/**
 * Weights read only if a tower has to be compiled (its compiled model is not in the cache);
 * `load` may be called again for a tower compiled later.
 */
export interface LazyWeights {
  config: ClipConfig;
  logitScale: number;
  load: () => Promise<StateDict>;
}

export interface ClipRuntimeOptions extends RuntimeOptions {
  /** Keep each tower's compiled ONNX model in `<compiledDir>/{image,text}` and reuse it (see Session.cached). */
  compiledDir?: string;
  /**
   * 'fp32' (default, matches the reference) or 'int8': weight matmuls with int8 weights and
   * dynamically quantized activations (graph/quantize.ts): faster, not exact.
   */
  precision?: 'fp32' | 'int8';
  /**
   * With precision 'int8': preprocessed images [N, 3, R, R] on which the image tower's
   * convolutions are calibrated and quantized too (models/int8.ts); kept in the compiled cache
   * as `image-int8-calibrated`, which later int8 loads use without calibration images.
   */
  calibrationImages?: Tensor;
}

export class CLIP {
  readonly config: ClipConfig;
  /** The learned temperature, as stored: a log (logits use exp(logitScale)). */
  readonly logitScale: number;
  /** Runs `use` on the weights; lazy weights are read for the builds under way and then let go. */
  private readonly withWeights: <T>(use: (sd: StateDict) => T | Promise<T>) => Promise<T>;
  private imageSession?: Promise<Session>;
  private textSession?: Promise<Session>;

  constructor(weights: StateDict | LazyWeights, private readonly runtime: ClipRuntimeOptions = {}, config?: ClipConfig) {
    if (weights instanceof Map) {
      this.config = config ?? inferConfigFromStateDict(weights);
      this.logitScale = logitScaleOf(weights);
      this.withWeights = async (use) => use(weights);
    } else {
      this.config = config ?? weights.config;
      this.logitScale = weights.logitScale;
      let loading: Promise<StateDict> | undefined;
      let users = 0;
      this.withWeights = async (use) => {
        users++;
        try {
          return await use(await (loading ??= weights.load()));
        } finally {
          if (--users === 0) loading = undefined;
        }
      };
    }
  }

  private session(tower: 'image' | 'text'): Promise<Session> {
    const int8 = this.runtime.precision === 'int8';
    const { compiledDir } = this.runtime;
    // int8 image towers with calibrated convolutions (clip quantize) are kept apart and preferred.
    const calibratedDir = compiledDir && join(compiledDir, 'image-int8-calibrated');
    const calibrated = int8 && tower === 'image' && (this.runtime.calibrationImages || (calibratedDir && Session.isCached(calibratedDir)));
    const build = () => this.withWeights(async (sd) => {
      const graph = tower === 'image' ? buildImageGraph(sd, this.config) : buildTextGraph(sd, this.config, { dynamicLength: true });
      if (int8) await quantizeTower(graph, calibrated ? this.runtime.calibrationImages : undefined, this.runtime);
      return graph;
    });
    return compiledDir
      ? Session.cached(calibrated ? calibratedDir! : join(compiledDir, int8 ? `${tower}-int8` : tower), build, this.runtime)
      : build().then((g) => Session.create(g, this.runtime));
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

  /** Frees the ONNX Runtime sessions. */
  async release(): Promise<void> {
    for (const s of [this.imageSession, this.textSession]) if (s) await (await s).release();
    this.imageSession = this.textSession = undefined;
  }
}
