// `load(nameOrPath)`: the reference `clip.load`. A model name (`ViT-B/32`, `cn-clip/ViT-B-16`) or
// `hf-hub:` repository is downloaded into the cache first; a path may be a checkpoint file or a
// folder holding one (Hugging Face style, with tokenizer and config files beside it). Returns the
// model with the preprocessing and tokenizer that belong to it: OpenAI models crop the short side
// and use BPE; Chinese-CLIP models resize to a square and use BERT's WordPiece.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InputError } from './errors.js';
import { preprocess as preprocessImage, preprocessBatch, type BatchOptions, type BatchResult, type ImageInput, type PreprocessOptions } from './image/index.js';
import { CLIP, logitScaleOf, type LazyWeights } from './models/clip.js';
import { inferConfigFromStateDict, type ClipConfig, type ConfigOverrides } from './models/config.js';
import { readConfigFile } from './models/config-file.js';
import type { RuntimeOptions } from './runtime/session.js';
import type { StateDict, Tensor } from './tensor.js';
import { defaultTokenizer, Tokenizer, WordPieceTokenizer, type TextTokenizer } from './text/index.js';
import { readCheckpoint } from './weights/index.js';
import { toCanonical } from './weights/keymap/index.js';
import { cacheDir } from './zoo/cache.js';
import { downloadModel, type FetchOptions } from './zoo/fetch.js';
import { resolveModel } from './zoo/models.js';

export interface LoadOptions extends RuntimeOptions, FetchOptions {
  /** 'fp32' (default, exact) or 'int8' (dynamic quantization of weight matmuls: faster, approximate). */
  precision?: 'fp32' | 'int8';
  /** BPE merges file for OpenAI models whose download or folder does not bring one. */
  bpePath?: string;
  /** BERT vocab.txt for Chinese-CLIP models whose folder does not bring one. */
  vocabPath?: string;
  /**
   * Keep the compiled ONNX towers in `<cacheDir>/compiled/` so the next load of the same file
   * skips reading and converting the weights. Default: on for models loaded by name (already in
   * the cache), off for other paths.
   */
  compiledCache?: boolean;
}

export type Preprocess = (image: ImageInput, options?: Omit<PreprocessOptions, 'size' | 'resizeMode'>) => Promise<Tensor>;

export interface LoadedClip {
  model: CLIP;
  /** The model's image transform: image → float32 [3, R, R]. */
  preprocess: Preprocess;
  /** Many images at once, concurrently; failures are reported, not thrown. */
  preprocessBatch: (images: readonly ImageInput[], options?: Omit<BatchOptions, 'size' | 'resizeMode'>) => Promise<BatchResult>;
  /** The model's tokenizer: texts → int32 [N, contextLength] (`truncate` applies to BPE; BERT always truncates). */
  tokenize: (texts: string | readonly string[], options?: { truncate?: boolean }) => Tensor<Int32Array>;
  /** The tokenizer itself (encode / decode). */
  tokenizer: () => TextTokenizer;
}

/** Where a model's files are; tokenizer files are optional, found by kind once the weights are read. */
interface ModelFiles {
  weights: string;
  overrides: ConfigOverrides;
  bpe?: string;
  hfTokenizer?: { vocab: string; merges: string };
  vocabTxt?: string;
}

const HF_WEIGHT_FILES = ['model.safetensors', 'pytorch_model.bin', 'open_clip_model.safetensors', 'open_clip_pytorch_model.bin'];
const CHECKPOINT = /\.(pt|pth|bin|safetensors)$/;

const existing = (path: string): string | undefined => (existsSync(path) ? path : undefined);

/** A checkpoint file, or a folder with one; config and tokenizer files are looked for beside it. */
function localFiles(path: string): ModelFiles {
  let weights = path;
  if (statSync(path).isDirectory()) {
    const files = readdirSync(path);
    const candidates = files.filter((f) => CHECKPOINT.test(f));
    const found = HF_WEIGHT_FILES.find((f) => files.includes(f)) ?? (candidates.length === 1 ? candidates[0] : undefined);
    if (!found) throw new InputError(`${path}: no checkpoint found (expected one of ${HF_WEIGHT_FILES.join(', ')} or a single .pt/.safetensors file)`);
    weights = join(path, found);
  }
  const dir = dirname(weights);
  const config = existing(join(dir, `${basename(weights).replace(CHECKPOINT, '')}.config.json`))
    ?? existing(join(dir, basename(weights).startsWith('open_clip_') ? 'open_clip_config.json' : 'config.json'));
  const vocab = existing(join(dir, 'vocab.json'));
  const merges = existing(join(dir, 'merges.txt'));
  const bpe = readdirSync(dir).find((f) => f.startsWith('bpe_simple_vocab'));
  return {
    weights,
    overrides: config ? readConfigFile(config) : {},
    hfTokenizer: vocab && merges ? { vocab, merges } : undefined,
    bpe: bpe ? join(dir, bpe) : undefined,
    vocabTxt: existing(join(dir, 'vocab.txt')),
  };
}

async function resolveFiles(nameOrPath: string, options: LoadOptions): Promise<ModelFiles> {
  if (existsSync(nameOrPath)) return localFiles(nameOrPath);
  resolveModel(nameOrPath); // a clear error listing the models before any download
  const files = await downloadModel(nameOrPath, options);
  switch (files.kind) {
    case 'openai': return { weights: files.weights, overrides: {}, bpe: files.bpe };
    case 'chinese-clip': return { weights: files.weights, overrides: files.overrides, vocabTxt: files.vocab };
    case 'huggingface': return {
      weights: files.weights,
      overrides: readConfigFile(files.config),
      ...('bpe' in files.tokenizer ? { bpe: files.tokenizer.bpe } : { hfTokenizer: files.tokenizer }),
    };
  }
}

function tokenizerFor(kind: 'transformer' | 'bert', files: ModelFiles, options: LoadOptions): () => TextTokenizer {
  if (kind === 'bert') {
    return () => {
      const path = options.vocabPath ?? files.vocabTxt ?? existing(join(cacheDir(options.cacheDir), 'cn-clip', 'vocab.txt'));
      if (!path) throw new InputError(`Chinese-CLIP tokenizer: no vocab.txt beside ${files.weights}; pass --vocab <file> (vocabPath in the API; the file ships with every Chinese-CLIP download, e.g. load("cn-clip/ViT-B-16"))`);
      return WordPieceTokenizer.fromVocabFile(path);
    };
  }
  const hf = files.hfTokenizer;
  if (hf && !options.bpePath) return () => Tokenizer.fromHuggingFaceFiles(hf.vocab, hf.merges);
  return () => defaultTokenizer(options.bpePath ?? files.bpe);
}

/** Bump when the graphs the models emit change, so stale compiled models are not reused. */
const COMPILED_FORMAT = 1;

interface CompiledMeta { config: ClipConfig; logitScale: number }

/**
 * The weights (or, when a compiled model of this exact file is cached, only its config and
 * logit scale, reading the weights lazily) and the folder for its compiled towers. The cache key
 * covers the file's identity (path, size, mtime), the config overrides and the emitter format.
 */
async function weightsFor(files: ModelFiles, options: LoadOptions, compile: boolean): Promise<{ weights: StateDict | LazyWeights; compiledDir?: string }> {
  const read = async () => toCanonical(await readCheckpoint(files.weights));
  if (!compile) return { weights: await read() };
  const info = statSync(files.weights);
  const key = createHash('sha256').update(JSON.stringify([COMPILED_FORMAT, realpathSync(files.weights), info.size, info.mtimeMs, files.overrides])).digest('hex').slice(0, 32);
  const compiledDir = join(cacheDir(options.cacheDir), 'compiled', key);
  const metaPath = join(compiledDir, 'meta.json');
  if (existsSync(metaPath)) {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as CompiledMeta;
    return { weights: { ...meta, load: read }, compiledDir };
  }
  const stateDict = await read();
  const meta: CompiledMeta = { config: inferConfigFromStateDict(stateDict, files.overrides), logitScale: logitScaleOf(stateDict) };
  mkdirSync(compiledDir, { recursive: true });
  const staging = `${metaPath}.tmp-${process.pid}`;
  writeFileSync(staging, JSON.stringify(meta));
  renameSync(staging, metaPath);
  return { weights: stateDict, compiledDir };
}

/** clip.load(name | path, { device }) → the model, its preprocess and its tokenizer. */
export async function load(nameOrPath: string, options: LoadOptions = {}): Promise<LoadedClip> {
  const byName = !existsSync(nameOrPath);
  const files = await resolveFiles(nameOrPath, options);
  const { weights, compiledDir } = await weightsFor(files, options, options.compiledCache ?? byName);
  const config = weights instanceof Map ? inferConfigFromStateDict(weights, files.overrides) : weights.config;
  const { device, threads, optimization, spinning, precision } = options;
  const model = new CLIP(weights, { device, threads, optimization, spinning, precision, compiledDir }, config);
  const size = config.vision.imageResolution;
  const resizeMode = config.text.kind === 'bert' ? 'square' : 'shortest-side-crop';
  const { contextLength } = config.text;
  const makeTokenizer = tokenizerFor(config.text.kind, files, options);
  let tokenizer: TextTokenizer | undefined;
  const getTokenizer = () => (tokenizer ??= makeTokenizer());
  return {
    model,
    preprocess: (image, opts = {}) => preprocessImage(image, { ...opts, size, resizeMode }),
    preprocessBatch: (images, opts = {}) => preprocessBatch(images, { ...opts, size, resizeMode }),
    tokenize: (texts, opts = {}) => getTokenizer().tokenize(texts, { ...opts, contextLength }),
    tokenizer: getTokenizer,
  };
}
