// Opening a model: where its files are (a checkpoint, or a folder with one; a zoo name or
// `hf-hub:` repository, downloaded first), what its config file says beyond the weights, and the
// model read from them: the canonical state dict and the ClipConfig inferred with that file's
// overrides. load() and training both open models here, so what they run cannot drift apart.

import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InputError } from './errors.js';
import type { ResizeMode, TransformOptions } from './image/index.js';
import { logitScaleOf } from './models/clip.js';
import { inferConfigFromStateDict, type ClipConfig } from './models/config.js';
import { modelSettingsFromJson, readConfigJson, type ModelSettings } from './models/config-file.js';
import type { StateDict } from './tensor.js';
import { OPEN_CLIP_SPECIAL_TOKENS, Tokenizer, WordPieceTokenizer, type TextTokenizer } from './text/index.js';
import { defaultTokenizer } from './zoo/tokenizer.js';
import { readCheckpoint, readCheckpointShapes } from './weights/index.js';
import { renamedToCanonical, toCanonical } from './weights/keymap/index.js';
import { cacheDir } from './zoo/cache.js';
import { downloadModel, type FetchOptions } from './zoo/fetch.js';
import { resolveModel } from './zoo/models.js';

export interface ModelFileOptions extends FetchOptions {
  /**
   * The model's config file (open_clip_config.json, a Hugging Face config.json, a Chinese-CLIP
   * config), when none is beside the checkpoint under a name looked for (see configBeside), e.g.
   * for open_clip's training checkpoints (epoch_N.pt).
   */
  config?: string;
}

/** Where a model's files are and what its config file says; tokenizer files are optional. */
export interface ModelFiles {
  weights: string;
  settings: ModelSettings;
  /** The config file's JSON as read, so a fine-tuned copy can be saved with it (train/checkpoint.ts). */
  configJson?: Record<string, unknown>;
  bpe?: string;
  hfTokenizer?: { vocab: string; merges: string };
  vocabTxt?: string;
}

const HF_WEIGHT_FILES = [
  'model.safetensors',
  'pytorch_model.bin',
  'open_clip_model.safetensors',
  'open_clip_pytorch_model.bin',
];
const CHECKPOINT = /\.(pt|pth|bin|safetensors)$/;
const OPEN_CLIP_CONFIG = 'open_clip_config.json';

const existing = (path: string): string | undefined => (existsSync(path) ? path : undefined);

/** `<stem>.config.json` beside a checkpoint: the config file saved with a fine-tuned model. */
export function configPathFor(weights: string): string {
  return join(dirname(weights), `${basename(weights).replace(CHECKPOINT, '')}.config.json`);
}

/**
 * The config file beside a checkpoint: `<stem>.config.json`, else open_clip_config.json for
 * open_clip's own weight files, else config.json (Hugging Face), else open_clip_config.json (e.g.
 * beside an open_clip training checkpoint).
 */
function configBeside(weights: string): string | undefined {
  const dir = dirname(weights);
  const own = existing(configPathFor(weights));
  if (own) return own;
  if (basename(weights).startsWith('open_clip_')) return existing(join(dir, OPEN_CLIP_CONFIG));
  return existing(join(dir, 'config.json')) ?? existing(join(dir, OPEN_CLIP_CONFIG));
}

function settingsOf(configPath: string | undefined): Pick<ModelFiles, 'settings' | 'configJson'> {
  if (!configPath) return { settings: { overrides: {} } };
  const configJson = readConfigJson(configPath);
  return { settings: modelSettingsFromJson(configJson, configPath), configJson };
}

/** A checkpoint file, or a folder with one; config and tokenizer files are looked for beside it. */
function localFiles(path: string, configPath: string | undefined): ModelFiles {
  let weights = path;
  if (statSync(path).isDirectory()) {
    const files = readdirSync(path);
    const candidates = files.filter((f) => CHECKPOINT.test(f));
    const found =
      HF_WEIGHT_FILES.find((f) => files.includes(f)) ?? (candidates.length === 1 ? candidates[0] : undefined);
    if (!found)
      throw new InputError(
        `${path}: no checkpoint found (expected one of ${HF_WEIGHT_FILES.join(', ')} or a single .pt/.safetensors ` +
          `file)`,
      );
    weights = join(path, found);
  }
  const dir = dirname(weights);
  const vocab = existing(join(dir, 'vocab.json'));
  const merges = existing(join(dir, 'merges.txt'));
  const bpe = readdirSync(dir).find((f) => f.startsWith('bpe_simple_vocab'));
  return {
    weights,
    ...settingsOf(configPath ?? configBeside(weights)),
    hfTokenizer: vocab && merges ? { vocab, merges } : undefined,
    bpe: bpe ? join(dir, bpe) : undefined,
    vocabTxt: existing(join(dir, 'vocab.txt')),
  };
}

/** The files of a path, a zoo model name or an `hf-hub:` repository (downloaded into the cache). */
export async function findModelFiles(nameOrPath: string, options: ModelFileOptions = {}): Promise<ModelFiles> {
  if (options.config !== undefined && !existsSync(options.config))
    throw new InputError(`model config file not found: ${options.config}`);
  if (existsSync(nameOrPath)) return localFiles(nameOrPath, options.config);
  resolveModel(nameOrPath); // a clear error listing the models before any download
  const files = await downloadModel(nameOrPath, options);
  const given = options.config ? settingsOf(options.config) : undefined;
  switch (files.kind) {
    case 'openai':
      return { weights: files.weights, ...(given ?? settingsOf(undefined)), bpe: files.bpe };
    case 'chinese-clip':
      return {
        weights: files.weights,
        ...(given ?? { settings: { overrides: files.overrides } }),
        vocabTxt: files.vocab,
      };
    case 'huggingface':
      return {
        weights: files.weights,
        ...(given ?? settingsOf(files.config)),
        ...('bpe' in files.tokenizer ? { bpe: files.tokenizer.bpe } : { hfTokenizer: files.tokenizer }),
      };
  }
}

/** A tower's weights: the image tower's are those under `visual.`, the text tower's all the others. */
export type WeightPart = 'image' | 'text';

const inPart = (part: WeightPart, canonicalName: string) => canonicalName.startsWith('visual.') === (part === 'image');

/**
 * The config and logit scale from the checkpoint's shapes and one scalar, and a reader of one
 * tower's weights, where the checkpoint's names only rename OpenAI's (OpenAI, open_clip; PyTorch
 * formats): a first load then reads the image tower's tensors, not the text tower's too
 * (ViT-B/32: 88M of 151M values; ~0.1 s of a 1.2 s first load). Undefined for other layouts
 * and safetensors: read the whole model with readModel.
 */
export async function readModelByTower(
  files: ModelFiles,
): Promise<{ config: ClipConfig; logitScale: number; read: (part: WeightPart) => Promise<StateDict> } | undefined> {
  // The shapes, and the one scalar the config does not give (open_clip keeps the OpenAI name).
  const header = await readCheckpointShapes(files.weights, (name) => name === 'logit_scale');
  // Each shape carries its name in the file through the renaming, so a tower's tensors are read by it.
  const named = header && renamedToCanonical(new Map([...header.shapes].map(([name, s]) => [name, { ...s, name }])));
  if (!named) return undefined;
  return {
    config: inferConfigFromStateDict(named, files.settings.overrides),
    logitScale: logitScaleOf(toCanonical(header.stateDict)),
    read: async (part) => {
      const wanted = new Set([...named].filter(([canonical]) => inPart(part, canonical)).map(([, s]) => s.name));
      return toCanonical(await readCheckpoint(files.weights, (name) => wanted.has(name)));
    },
  };
}

/** The weights under canonical names and the config they give with the config file's overrides. */
export async function readModel(files: ModelFiles): Promise<{ stateDict: StateDict; config: ClipConfig }> {
  const stateDict = toCanonical(await readCheckpoint(files.weights));
  return { stateDict, config: inferConfigFromStateDict(stateDict, files.settings.overrides) };
}

export interface TokenizerFileOptions {
  /** BPE merges file for models whose download or folder does not bring one. */
  bpePath?: string;
  /** BERT vocab.txt for Chinese-CLIP models whose folder does not bring one. */
  vocabPath?: string;
  cacheDir?: string;
}

/** A model's image transform, every choice made (mean and std only where they differ from CLIP's). */
export type ImageTransform = TransformOptions & { resizeMode: ResizeMode };

/** The model's image transform: its config's (open_clip's preprocess_cfg), else its family's. */
export function imageTransformFor(config: ClipConfig, files: ModelFiles): ImageTransform {
  const {
    mean,
    std,
    resizeMode = config.text.kind === 'bert' ? 'square' : 'shortest-side-crop',
  } = files.settings.preprocess ?? {};
  return { size: config.vision.imageResolution, resizeMode, ...(mean ? { mean } : {}), ...(std ? { std } : {}) };
}

/** A BPE model's tokenizer, made on first use, with the special-token names its config implies. */
export function bpeTokenizerFor(files: ModelFiles, options: TokenizerFileOptions): () => Tokenizer {
  const specials = files.settings.tokenizer === 'open_clip' ? OPEN_CLIP_SPECIAL_TOKENS : undefined;
  const hf = files.hfTokenizer;
  if (hf && !options.bpePath) return () => Tokenizer.fromHuggingFaceFiles(hf.vocab, hf.merges, specials);
  return () => defaultTokenizer(options.bpePath ?? files.bpe, specials);
}

/** The model's tokenizer, made on first use: BPE (bpeTokenizerFor) or BERT's WordPiece. */
export function tokenizerFor(
  kind: 'transformer' | 'bert',
  files: ModelFiles,
  options: TokenizerFileOptions,
): () => TextTokenizer {
  if (kind === 'bert') {
    return () => {
      const path =
        options.vocabPath ?? files.vocabTxt ?? existing(join(cacheDir(options.cacheDir), 'cn-clip', 'vocab.txt'));
      if (!path)
        throw new InputError(
          `Chinese-CLIP tokenizer: no vocab.txt beside ${files.weights}; pass --vocab <file> (vocabPath in the API; ` +
            `the file ships with every Chinese-CLIP download, e.g. load("cn-clip/ViT-B-16"))`,
        );
      return WordPieceTokenizer.fromVocabFile(path);
    };
  }
  return bpeTokenizerFor(files, options);
}
