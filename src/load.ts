// `load(nameOrPath)`: the reference `clip.load`. A model name or `hf-hub:` repository is
// downloaded into the cache first; a path may be a checkpoint file or a folder holding one
// (with Hugging Face tokenizer files beside it). Returns the model with the preprocessing and
// tokenizer that belong to it.

import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from './errors.js';
import { preprocess as preprocessImage, preprocessBatch, type BatchOptions, type BatchResult, type ImageInput, type PreprocessOptions } from './image/index.js';
import { CLIP } from './models/clip.js';
import type { RuntimeOptions } from './runtime/session.js';
import type { Tensor } from './tensor.js';
import { defaultTokenizer, Tokenizer, type TokenizeOptions } from './text/index.js';
import { readCheckpoint } from './weights/index.js';
import { toCanonical } from './weights/keymap/index.js';
import { downloadModel, type FetchOptions } from './zoo/fetch.js';
import { availableModels, HF_HUB_PREFIX } from './zoo/models.js';

export interface LoadOptions extends RuntimeOptions, FetchOptions {
  /** Merges file for the tokenizer when the model does not bring its own. */
  bpePath?: string;
}

export type Preprocess = (image: ImageInput, options?: Omit<PreprocessOptions, 'size'>) => Promise<Tensor>;

export interface LoadedClip {
  model: CLIP;
  /** The model's image transform: image → float32 [3, R, R]. */
  preprocess: Preprocess;
  /** Many images at once, concurrently; failures are reported, not thrown. */
  preprocessBatch: (images: readonly ImageInput[], options?: Omit<BatchOptions, 'size'>) => Promise<BatchResult>;
  /** The model's tokenizer: texts → int32 [N, contextLength]. */
  tokenize: (texts: string | readonly string[], options?: Omit<TokenizeOptions, 'contextLength'>) => Tensor<Int32Array>;
}

interface ModelPaths { weights: string; tokenizer: () => Tokenizer }

const HF_WEIGHT_FILES = ['model.safetensors', 'pytorch_model.bin', 'open_clip_model.safetensors', 'open_clip_pytorch_model.bin'];

function hfTokenizer(dir: string): (() => Tokenizer) | undefined {
  const vocab = join(dir, 'vocab.json');
  const merges = join(dir, 'merges.txt');
  return existsSync(vocab) && existsSync(merges) ? () => Tokenizer.fromHuggingFaceFiles(vocab, merges) : undefined;
}

/** A local file, or a folder with a Hugging Face-style weights file (or a single checkpoint). */
function localPaths(path: string, bpePath?: string): ModelPaths {
  const fallback = () => defaultTokenizer(bpePath);
  if (!statSync(path).isDirectory()) return { weights: path, tokenizer: fallback };
  const files = readdirSync(path);
  const weights = HF_WEIGHT_FILES.find((f) => files.includes(f))
    ?? (files.filter((f) => /\.(pt|pth|bin|safetensors)$/.test(f)).length === 1 ? files.find((f) => /\.(pt|pth|bin|safetensors)$/.test(f)) : undefined);
  if (!weights) throw new InputError(`${path}: no checkpoint found (expected one of ${HF_WEIGHT_FILES.join(', ')} or a single .pt/.safetensors file)`);
  const bpe = files.find((f) => f.startsWith('bpe_simple_vocab'));
  return { weights: join(path, weights), tokenizer: hfTokenizer(path) ?? (bpe ? () => defaultTokenizer(join(path, bpe)) : fallback) };
}

async function resolvePaths(nameOrPath: string, options: LoadOptions): Promise<ModelPaths> {
  if (existsSync(nameOrPath)) return localPaths(nameOrPath, options.bpePath);
  if (!availableModels().includes(nameOrPath) && !nameOrPath.startsWith(HF_HUB_PREFIX)) {
    throw new InputError(`"${nameOrPath}" is neither a file nor a known model; available models: ${availableModels().join(', ')}, or ${HF_HUB_PREFIX}owner/repo`);
  }
  const files = await downloadModel(nameOrPath, options);
  if (files.kind === 'openai') return { weights: files.weights, tokenizer: () => defaultTokenizer(options.bpePath ?? files.bpe) };
  return { weights: files.weights, tokenizer: () => Tokenizer.fromHuggingFaceFiles(files.vocab, files.merges) };
}

/** clip.load(name | path, { device }) → the model, its preprocess and its tokenizer. */
export async function load(nameOrPath: string, options: LoadOptions = {}): Promise<LoadedClip> {
  const paths = await resolvePaths(nameOrPath, options);
  const stateDict = toCanonical(await readCheckpoint(paths.weights));
  const model = new CLIP(stateDict, { device: options.device, threads: options.threads, optimization: options.optimization });
  const size = model.config.vision.imageResolution;
  const contextLength = model.config.text.contextLength;
  let tokenizer: Tokenizer | undefined;
  return {
    model,
    preprocess: (image, opts = {}) => preprocessImage(image, { ...opts, size }),
    preprocessBatch: (images, opts = {}) => preprocessBatch(images, { ...opts, size }),
    tokenize: (texts, opts = {}) => (tokenizer ??= paths.tokenizer()).tokenize(texts, { ...opts, contextLength }),
  };
}
