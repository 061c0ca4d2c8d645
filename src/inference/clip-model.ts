// The running CLIP model, whatever the platform: each tower compiled on first use by the runtime
// the caller supplies (onnxruntime-node in clip.ts, onnxruntime-web in src/web), captions run in
// length buckets, and `forward` gives the reference's scaled cosine logits.

import { InputError } from '../errors.js';
import type { Graph } from '../graph/ir.js';
import { buildImageGraph, buildTextGraph, logitScaleOf } from '../models/clip.js';
import { imageOutputWidth, inferConfigFromStateDict, type ClipConfig, type ImageOutput } from '../models/config.js';
import type { TowerSession } from '../runtime/ort-session.js';
import type { StateDict, Tensor } from '../tensor.js';
import { clipLogits, type ClipLogits } from './logits.js';
import { lengthBuckets, trimPadding } from './text-buckets.js';
import { first } from '../checked.js';
import type { WeightPart } from '../model-files.js';

/**
 * Weights read only if a tower has to be compiled (its compiled model is not in the cache), by
 * tower: `load(part)` gives at least that tower's weights, and may be called again for a tower
 * compiled later.
 */
export interface LazyWeights {
  config: ClipConfig;
  logitScale: number;
  /** Whether `load(part)` reads that tower's weights only; otherwise it reads them all, once for the towers built together. */
  byTower: boolean;
  load: (part: WeightPart) => Promise<StateDict>;
}

export type Precision = 'fp32' | 'int8';

/** The graphs a model runs: 'image-pre-projection' outputs the image features before `proj` (ImageOutput). */
export type Tower = 'image' | 'image-pre-projection' | 'text';

/**
 * Compiles a tower into a runnable session. `build` gives its float32 graph; the runtime may
 * rewrite it (int8) and keep the result (a compiled cache).
 */
export type OpenTower = (tower: Tower, build: () => Promise<Graph>) => Promise<TowerSession>;

export class ClipModel {
  readonly config: ClipConfig;
  /** The learned temperature, as stored: a log (logits use exp(logitScale)). */
  readonly logitScale: number;
  /** Runs `use` on a tower's weights; lazy weights are read for the builds under way and then let go. */
  private readonly withWeights: <T>(part: WeightPart, use: (sd: StateDict) => T | Promise<T>) => Promise<T>;
  private imageSession?: Promise<TowerSession>;
  private preProjectionSession?: Promise<TowerSession>;
  private textSession?: Promise<TowerSession>;

  constructor(
    weights: StateDict | LazyWeights,
    private readonly openTower: OpenTower,
    config?: ClipConfig,
  ) {
    if (weights instanceof Map) {
      this.config = config ?? inferConfigFromStateDict(weights);
      this.logitScale = logitScaleOf(weights);
      this.withWeights = async (_part, use) => use(weights);
    } else {
      this.config = config ?? weights.config;
      this.logitScale = weights.logitScale;
      const loading = new Map<WeightPart | 'all', { weights: Promise<StateDict>; users: number }>();
      this.withWeights = async (part, use) => {
        const key = weights.byTower ? part : 'all';
        const read = loading.get(key) ?? { weights: weights.load(part), users: 0 };
        loading.set(key, read);
        read.users++;
        try {
          return await use(await read.weights);
        } finally {
          if (--read.users === 0) loading.delete(key);
        }
      };
    }
  }

  private session(tower: Tower): Promise<TowerSession> {
    return this.openTower(tower, () =>
      this.withWeights(tower === 'text' ? 'text' : 'image', (sd) =>
        tower === 'text'
          ? buildTextGraph(sd, this.config, { dynamicLength: true })
          : buildImageGraph(sd, this.config, { imageOutput: tower === 'image' ? 'embedding' : 'pre-projection' }),
      ),
    );
  }

  /**
   * images float32 [N, 3, R, R] (preprocessed) → features [N, embedDim]; with `output:
   * 'pre-projection'`, a ViT's features before the projection, [N, vision width] (ImageOutput).
   */
  async encodeImage(images: Tensor, { output = 'embedding' }: { output?: ImageOutput } = {}): Promise<Tensor> {
    const R = this.config.vision.imageResolution;
    const [n, c, h, w] = images.shape;
    if (images.shape.length !== 4 || c !== 3 || h !== R || w !== R) {
      throw new InputError(`encodeImage expects images [N, 3, ${R}, ${R}], got [${images.shape.join(', ')}]`);
    }
    if (n === 0) return { data: new Float32Array(0), shape: [0, imageOutputWidth(this.config, output)] };
    const session =
      output === 'embedding'
        ? (this.imageSession ??= this.session('image'))
        : (this.preProjectionSession ??= this.session('image-pre-projection'));
    const out = await (await session).run({ images });
    return out.image_features as Tensor;
  }

  /** tokens int32 [N, contextLength] (from tokenize) → features [N, embedDim]. */
  async encodeText(tokens: Tensor<Int32Array>): Promise<Tensor> {
    const L = this.config.text.contextLength;
    if (tokens.shape.length !== 2 || tokens.shape[1] !== L) {
      throw new InputError(`encodeText expects tokens [N, ${L}], got [${tokens.shape.join(', ')}]`);
    }
    if (!(tokens.data instanceof Int32Array))
      throw new InputError('encodeText expects int32 token ids (an Int32Array)');
    const { vocabSize } = this.config.text;
    const bad = tokens.data.findIndex((id) => id < 0 || id >= vocabSize);
    if (bad >= 0)
      throw new InputError(
        `token id ${tokens.data[bad]} at row ${Math.floor(bad / L)} is outside the vocabulary [0, ${vocabSize})`,
      );
    if (tokens.shape[0] === 0) return { data: new Float32Array(0), shape: [0, this.config.embedDim] };
    this.textSession ??= this.session('text');
    const session = await this.textSession;
    const { kind } = this.config.text;
    const D = this.config.embedDim;
    const n = first(tokens.shape);
    const features = new Float32Array(n * D);
    for (const rows of lengthBuckets(tokens, kind)) {
      const out = await session.run({ tokens: trimPadding(tokens, kind, rows) });
      const part = out.text_features?.data;
      if (!(part instanceof Float32Array)) throw new Error('the text tower gave no float32 text_features');
      rows.forEach((r, i) => features.set(part.subarray(i * D, (i + 1) * D), r * D));
    }
    return { data: features, shape: [n, D] };
  }

  /** The reference `model(image, text)`: scaled cosine similarities both ways. */
  async forward(images: Tensor, tokens: Tensor<Int32Array>): Promise<ClipLogits> {
    const [img, txt] = await Promise.all([this.encodeImage(images), this.encodeText(tokens)]);
    return clipLogits(img, txt, this.logitScale);
  }

  /** Frees the runtime sessions. */
  async release(): Promise<void> {
    for (const s of [this.imageSession, this.preProjectionSession, this.textSession]) if (s) await (await s).release();
    this.imageSession = this.preProjectionSession = this.textSession = undefined;
  }
}
