// Model configuration inferred from a state dict's shapes, by the reference `build_model` rules.

import { ConfigError } from '../errors.js';
import type { TensorShape } from '../tensor.js';

/** Tensor name → shape: a state dict, or a checkpoint's shapes read without its tensors. */
type Shapes = ReadonlyMap<string, TensorShape>;

export interface VisionTransformerConfig {
  kind: 'vit';
  width: number;
  layers: number;
  heads: number;
  patchSize: number;
  imageResolution: number;
  /** Hidden width of each block's MLP when it is not 4 · width (open_clip's mlp_ratio, e.g. ViT-g-14). */
  mlpWidth?: number;
}

export interface ModifiedResNetConfig {
  kind: 'resnet';
  width: number;
  layers: [number, number, number, number];
  /** Heads of the attention pool: width · 32 / head width (64 in OpenAI's models). */
  heads: number;
  imageResolution: number;
}

/** OpenAI CLIP's causal text transformer (pooled at the end-of-text token). */
export interface TextTransformerConfig {
  kind: 'transformer';
  width: number;
  layers: number;
  heads: number;
  contextLength: number;
  vocabSize: number;
  /** Hidden width of each block's MLP when it is not 4 · width (open_clip's mlp_ratio). */
  mlpWidth?: number;
}

/** Chinese-CLIP's BERT/RoBERTa text tower (post-LN, pooled at [CLS], padding mask). */
export interface BertConfig {
  kind: 'bert';
  width: number;
  layers: number;
  heads: number;
  intermediate: number;
  /** Rows of the position table (512); the tokenizer's context length is `contextLength`. */
  maxPositions: number;
  typeVocabSize: number;
  vocabSize: number;
  contextLength: number;
  activation: 'gelu';
}

/**
 * MLP activation of the CLIP transformers (ViT and text): OpenAI's QuickGELU `x·sigmoid(1.702x)`,
 * or the exact erf GELU of most open_clip models.
 */
export type Activation = 'quick_gelu' | 'gelu';

export interface ClipConfig {
  embedDim: number;
  vision: VisionTransformerConfig | ModifiedResNetConfig;
  text: TextTransformerConfig | BertConfig;
  activation: Activation;
}

/**
 * What the image tower outputs: the embedding (`encode_image`), or for a ViT the pooled class
 * token before the projection to the embedding space (the CLIP paper's linear-probe features, I_f
 * in its Figure 3). A ResNet's attention pool ends in its own projection: its embedding either way.
 */
export type ImageOutput = 'embedding' | 'pre-projection';

/** Width of the image features `output` gives. */
export function imageOutputWidth(cfg: ClipConfig, output: ImageOutput): number {
  return output === 'pre-projection' && cfg.vision.kind === 'vit' ? cfg.vision.width : cfg.embedDim;
}

/** A size a config file states, checked against the one the state dict's shapes give. */
export interface DeclaredSize {
  /** Dotted path in ClipConfig, e.g. "vision.width". */
  path: string;
  value: string | number | readonly number[];
  /** Where the config file says it, e.g. "model_cfg.vision_cfg.width". */
  key: string;
}

/** What a checkpoint's shapes cannot tell (from a model config file or a named preset). */
export interface ConfigOverrides {
  /** Vision heads when the head width is not 64 (e.g. ViT-H/14: width 1280 / head width 80). */
  visionHeads?: number;
  textHeads?: number;
  /** Tokenizer context length of a BERT tower (Chinese-CLIP: 52). */
  contextLength?: number;
  /**
   * Default 'quick_gelu' (OpenAI); open_clip models without `quick_gelu` and HF configs with hidden_act "gelu": 'gelu'.
   */
  activation?: Activation;
  /** Sizes the config file states: a state dict that disagrees is refused (a config of another model). */
  declared?: readonly DeclaredSize[];
}

function tensor(sd: Shapes, key: string): TensorShape {
  const t = sd.get(key);
  if (!t) {
    throw new ConfigError(
      `not a CLIP state dict: missing key "${key}" ` +
        `(found ${sd.size} keys${sd.size ? `, e.g. "${[...sd.keys()].slice(0, 3).join('", "')}"` : ''})`,
    );
  }
  return t;
}

function dim(sd: Shapes, key: string, axis: number, rank?: number): number {
  const t = tensor(sd, key);
  if (rank !== undefined && t.shape.length !== rank) {
    throw new ConfigError(`"${key}" has shape [${t.shape.join(', ')}], expected ${rank} dimensions`);
  }
  const d = t.shape[axis < 0 ? t.shape.length + axis : axis];
  if (d === undefined)
    throw new ConfigError(`"${key}" has shape [${t.shape.join(', ')}], expected a dimension ${axis}`);
  return d;
}

/** Distinct values of the `index`-th dot-separated part of the keys starting with `prefix`. */
function countDistinct(sd: Shapes, prefix: string, index: number): number {
  const seen = new Set<string>();
  for (const k of sd.keys()) {
    const part = k.startsWith(prefix) ? k.split('.')[index] : undefined;
    if (part !== undefined) seen.add(part);
  }
  return seen.size;
}

function squareSide(tokens: number, key: string): number {
  const side = Math.round(Math.sqrt(tokens - 1));
  if (side * side + 1 !== tokens)
    throw new ConfigError(`"${key}" has ${tokens} positions, expected a square grid plus one`);
  return side;
}

function inferBertConfig(sd: Shapes, overrides: ConfigOverrides): BertConfig {
  const width = dim(sd, 'bert.embeddings.word_embeddings.weight', 1, 2);
  return {
    kind: 'bert',
    width,
    layers: countDistinct(sd, 'bert.encoder.layer.', 3),
    heads: overrides.textHeads ?? width / 64,
    intermediate: dim(sd, 'bert.encoder.layer.0.intermediate.dense.weight', 0, 2),
    maxPositions: dim(sd, 'bert.embeddings.position_embeddings.weight', 0, 2),
    typeVocabSize: dim(sd, 'bert.embeddings.token_type_embeddings.weight', 0, 2),
    vocabSize: dim(sd, 'bert.embeddings.word_embeddings.weight', 0, 2),
    contextLength: overrides.contextLength ?? 52,
    activation: 'gelu',
  };
}

/**
 * The reference `clip.model.build_model` rules, from shapes only; a state dict with a
 * `bert.` text tower is Chinese-CLIP (same vision rules, BERT text config).
 */
export function inferConfigFromStateDict(sd: Shapes, overrides: ConfigOverrides = {}): ClipConfig {
  let vision: ClipConfig['vision'];
  if (sd.has('visual.proj')) {
    const width = dim(sd, 'visual.conv1.weight', 0, 4);
    const patchSize = dim(sd, 'visual.conv1.weight', -1);
    const layers = [...sd.keys()].filter((k) => k.startsWith('visual.') && k.endsWith('.attn.in_proj_weight')).length;
    const grid = squareSide(dim(sd, 'visual.positional_embedding', 0, 2), 'visual.positional_embedding');
    const mlp = mlpWidthOf(sd, 'visual.transformer.resblocks.0.mlp.c_fc.weight', width);
    vision = {
      kind: 'vit',
      width,
      layers,
      heads: overrides.visionHeads ?? width / 64,
      patchSize,
      imageResolution: patchSize * grid,
      ...mlp,
    };
  } else {
    const layers = [1, 2, 3, 4].map((b) => countDistinct(sd, `visual.layer${b}.`, 2)) as ModifiedResNetConfig['layers'];
    const width = dim(sd, 'visual.layer1.0.conv1.weight', 0, 4);
    const grid = squareSide(
      dim(sd, 'visual.attnpool.positional_embedding', 0, 2),
      'visual.attnpool.positional_embedding',
    );
    vision = {
      kind: 'resnet',
      width,
      layers,
      heads: overrides.visionHeads ?? (width * 32) / 64,
      imageResolution: grid * 32,
    };
  }
  const text = sd.has('bert.embeddings.word_embeddings.weight')
    ? inferBertConfig(sd, overrides)
    : inferTextTransformerConfig(sd, overrides);
  const attentionWidth = { vision: vision.kind === 'vit' ? vision.width : vision.width * 32, text: text.width };
  for (const [what, heads] of [
    ['vision', vision.heads],
    ['text', text.heads],
  ] as const) {
    if (Number.isInteger(heads) && heads >= 1 && attentionWidth[what] % heads === 0) continue;
    const given = what === 'vision' ? overrides.visionHeads : overrides.textHeads;
    throw new ConfigError(
      given === undefined
        ? `${what} attention width ${attentionWidth[what]} gives ${heads} heads at the default head width 64: ` +
            "this model's head count is not in its weights; give its config file " +
            '(e.g. open_clip_config.json beside the checkpoint)'
        : `${what} heads ${heads} do not divide the attention width ${attentionWidth[what]}`,
    );
  }
  const config: ClipConfig = {
    embedDim: dim(sd, 'text_projection', 1, 2),
    vision,
    text,
    activation: overrides.activation ?? 'quick_gelu',
  };
  for (const d of overrides.declared ?? []) checkDeclared(config, d);
  return config;
}

/** A size a config file states must be the one the weights have (else the file is another model's). */
function checkDeclared(config: ClipConfig, d: DeclaredSize): void {
  const actual = d.path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], config);
  if (JSON.stringify(actual) !== JSON.stringify(d.value)) {
    throw new ConfigError(
      `the config's ${d.key} is ${JSON.stringify(d.value)}, but the weights give ${JSON.stringify(actual)} ` +
        `(${d.path}): the config file belongs to another model`,
    );
  }
}

/** Rows of the first block's MLP input weight, kept only when not the reference's 4 · width. */
function mlpWidthOf(sd: Shapes, key: string, width: number): { mlpWidth?: number } {
  const hidden = dim(sd, key, 0, 2);
  return hidden === 4 * width ? {} : { mlpWidth: hidden };
}

function inferTextTransformerConfig(sd: Shapes, overrides: ConfigOverrides): TextTransformerConfig {
  const textWidth = dim(sd, 'ln_final.weight', 0, 1);
  return {
    kind: 'transformer',
    width: textWidth,
    layers: countDistinct(sd, 'transformer.resblocks.', 2),
    heads: overrides.textHeads ?? textWidth / 64,
    contextLength: dim(sd, 'positional_embedding', 0, 2),
    vocabSize: dim(sd, 'token_embedding.weight', 0, 2),
    ...mlpWidthOf(sd, 'transformer.resblocks.0.mlp.c_fc.weight', textWidth),
  };
}
