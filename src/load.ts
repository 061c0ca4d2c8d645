// `load(nameOrPath)`: the reference `clip.load`. A model name (`ViT-B/32`, `cn-clip/ViT-B-16`) or
// `hf-hub:` repository is downloaded into the cache first; a path may be a checkpoint file or a
// folder holding one (Hugging Face or open_clip style, with tokenizer and config files beside it;
// see model-files.ts). Returns the model with the preprocessing and tokenizer that belong to it:
// OpenAI models crop the short side and use BPE; Chinese-CLIP models resize to a square and use
// BERT's WordPiece; open_clip models follow their open_clip_config.json.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  preprocess as preprocessImage,
  preprocessBatch,
  type BatchOptions,
  type BatchResult,
  type ImageInput,
  type PreprocessOptions,
} from './image/index.js';
import {
  findModelFiles,
  imageTransformFor,
  type ImageTransform,
  readModel,
  readModelByTower,
  tokenizerFor,
  type WeightPart,
  type ModelFileOptions,
  type ModelFiles,
  type TokenizerFileOptions,
} from './model-files.js';
import { CLIP } from './inference/clip.js';
import { logitScaleOf } from './models/clip.js';
import type { LazyWeights } from './inference/clip-model.js';
import type { ClipConfig } from './models/config.js';
import type { RuntimeOptions } from './runtime/session.js';
import type { StateDict, Tensor } from './tensor.js';
import type { TextTokenizer } from './text/index.js';
import { cacheDir } from './zoo/cache.js';

export interface LoadOptions extends RuntimeOptions, ModelFileOptions, TokenizerFileOptions {
  /** 'fp32' (default, exact) or 'int8' (dynamic quantization of weight matmuls: faster, approximate). */
  precision?: 'fp32' | 'int8';
  /**
   * Keep the compiled ONNX towers in `<cacheDir>/compiled/` so the next load of the same file
   * skips reading and converting the weights. Default: on for models loaded by name (already in
   * the cache), off for other paths.
   */
  compiledCache?: boolean;
  /**
   * With precision 'int8': preprocessed images that calibrate the image tower's convolutions (see ClipRuntimeOptions).
   */
  calibrationImages?: Tensor;
  /** With calibration images: 'dynamic' (default) or 'static' int8 matmuls in the image tower (ClipRuntimeOptions). */
  int8Matmuls?: 'dynamic' | 'static';
}

export type Preprocess = (
  image: ImageInput,
  options?: Omit<PreprocessOptions, 'size' | 'resizeMode'>,
) => Promise<Tensor>;

export interface LoadedClip {
  model: CLIP;
  /** The checkpoint file the weights came from (for callers that record which model made their data). */
  checkpoint: string;
  /** The image transform: input resolution, resize mode, and mean/std when the model's config sets them. */
  transform: ImageTransform;
  /** The model's image transform: image → float32 [3, R, R]. */
  preprocess: Preprocess;
  /** Many images at once, concurrently; failures are reported, not thrown. */
  preprocessBatch: (
    images: readonly ImageInput[],
    options?: Omit<BatchOptions, 'size' | 'resizeMode'>,
  ) => Promise<BatchResult>;
  /** The model's tokenizer: texts → int32 [N, contextLength] (`truncate` applies to BPE; BERT always truncates). */
  tokenize: (texts: string | readonly string[], options?: { truncate?: boolean }) => Tensor<Int32Array>;
  /** The tokenizer itself (encode / decode), read from its files on first use. */
  readonly tokenizer: TextTokenizer;
}

/** Bump when the graphs the models emit change, so stale compiled models are not reused. */
const COMPILED_FORMAT = 3;

interface CompiledMeta {
  config: ClipConfig;
  logitScale: number;
  /** Whether a tower's weights can be read alone (readModelByTower); absent in older caches: no. */
  byTower?: boolean;
}

/**
 * The weights (or, with a compiled cache, the config and logit scale, and the weights read lazily
 * when a tower has to be compiled: that tower's alone where the layout allows) and the folder for
 * its compiled towers. The cache key covers the file's identity (path, size, mtime), the config
 * overrides and the emitter format.
 */
async function weightsFor(
  files: ModelFiles,
  options: LoadOptions,
  compile: boolean,
): Promise<{ weights: StateDict | LazyWeights; config: ClipConfig; compiledDir?: string }> {
  if (!compile) {
    const { stateDict, config } = await readModel(files);
    return { weights: stateDict, config };
  }
  const info = statSync(files.weights);
  const key = createHash('sha256')
    .update(
      JSON.stringify([COMPILED_FORMAT, realpathSync(files.weights), info.size, info.mtimeMs, files.settings.overrides]),
    )
    .digest('hex')
    .slice(0, 32);
  const compiledDir = join(cacheDir(options.cacheDir), 'compiled', key);
  const metaPath = join(compiledDir, 'meta.json');
  const readAll = async () => (await readModel(files)).stateDict;
  const readTower = async (part: WeightPart) => {
    const byTower = await readModelByTower(files);
    return byTower ? byTower.read(part) : readAll();
  };
  if (existsSync(metaPath)) {
    const { config, logitScale, byTower = false } = JSON.parse(readFileSync(metaPath, 'utf8')) as CompiledMeta;
    return { weights: { config, logitScale, byTower, load: byTower ? readTower : readAll }, config, compiledDir };
  }
  const writeMeta = (meta: CompiledMeta) => {
    mkdirSync(compiledDir, { recursive: true });
    const staging = `${metaPath}.tmp-${process.pid}`;
    writeFileSync(staging, JSON.stringify(meta));
    renameSync(staging, metaPath);
  };
  const byTower = await readModelByTower(files);
  if (byTower) {
    const { config, logitScale } = byTower;
    writeMeta({ config, logitScale, byTower: true });
    return { weights: { config, logitScale, byTower: true, load: byTower.read }, config, compiledDir };
  }
  const { stateDict, config } = await readModel(files);
  const meta = { config, logitScale: logitScaleOf(stateDict), byTower: false };
  writeMeta(meta);
  // Lazy too, handing over the weights already read: the model lets them go once its towers are
  // compiled (inference/clip-model.ts), instead of holding the checkpoint as long as it lives.
  let first: StateDict | undefined = stateDict;
  const handOver = async () => {
    const sd = first ?? (await readAll());
    first = undefined;
    return sd;
  };
  return { weights: { ...meta, load: handOver }, config, compiledDir };
}

/** clip.load(name | path, { device }) → the model, its preprocess and its tokenizer. */
export async function load(nameOrPath: string, options: LoadOptions = {}): Promise<LoadedClip> {
  const byName = !existsSync(nameOrPath);
  const files = await findModelFiles(nameOrPath, options);
  const { weights, config, compiledDir } = await weightsFor(files, options, options.compiledCache ?? byName);
  const { device, threads, optimization, spinning, precision, calibrationImages, int8Matmuls } = options;
  const model = new CLIP(
    weights,
    { device, threads, optimization, spinning, precision, calibrationImages, int8Matmuls, compiledDir },
    config,
  );
  const { contextLength } = config.text;
  const makeTokenizer = tokenizerFor(config.text.kind, files, options);
  let tokenizer: TextTokenizer | undefined;
  const getTokenizer = () => (tokenizer ??= makeTokenizer());
  return {
    model,
    checkpoint: files.weights,
    ...imagePreprocessing(imageTransformFor(config, files)),
    tokenize: (texts, opts = {}) => getTokenizer().tokenize(texts, { ...opts, contextLength }),
    get tokenizer() {
      return getTokenizer();
    },
  };
}

/** A model's image transform with the preprocessing functions bound to it (callers may not change its size). */
export function imagePreprocessing(
  transform: ImageTransform,
): Pick<LoadedClip, 'transform' | 'preprocess' | 'preprocessBatch'> {
  const { size, resizeMode, ...normalization } = transform;
  return {
    transform,
    preprocess: (image, opts = {}) => preprocessImage(image, { ...normalization, ...opts, size, resizeMode }),
    preprocessBatch: (images, opts = {}) => preprocessBatch(images, { ...normalization, ...opts, size, resizeMode }),
  };
}
