// open_clip's `open_clip_config.json`: `model_cfg` (the architecture JSON of open_clip's
// model_configs/<name>.json, keys absent → the defaults of its CLIPVisionCfg / CLIPTextCfg
// dataclasses) and `preprocess_cfg`. Every key is accounted for: the sizes are read (and checked
// against the weights by inferConfigFromStateDict), settings that change nothing our towers do
// are ignored, and any other setting, or an unknown key, is refused with its key named, so an
// architecture we do not build (timm or Hugging Face towers, attentional pooling, layer scale, …)
// never loads as a plain CLIP with wrong features.

import { ConfigError } from '../errors.js';
import type { TransformOptions } from '../image/transform.js';
import type { ConfigOverrides, DeclaredSize } from './config.js';

type Json = Record<string, unknown>;

/** The image transform a config asks for (open_clip's validation transform). */
export type PreprocessSettings = Pick<TransformOptions, 'mean' | 'std' | 'resizeMode'>;

export interface OpenClipSettings {
  overrides: ConfigOverrides;
  preprocess: PreprocessSettings;
}

/**
 * Per section: keys read for a size (with open_clip's default), keys accepted only at the values
 * listed (the first is open_clip's default, the behaviour our towers implement), and keys that
 * change nothing here: initialisation, training-time dropout, or settings of towers and
 * tokenizers that are refused anyway.
 */
interface Section {
  sizes: Record<string, unknown>;
  fixed: Record<string, readonly unknown[]>;
  inert: readonly string[];
}

const NO_KWARGS = [null, {}];
const CUSTOM_BLOCK = {
  block_type: [null, 'default'],
  qk_norm: [false],
  scaled_cosine_attn: [false],
  scale_heads: [false],
  scale_attn_inner: [false],
  scale_attn: [false],
  scale_fc: [false],
};

const MODEL: Section = {
  sizes: { embed_dim: undefined, vision_cfg: {}, text_cfg: {}, quick_gelu: false },
  fixed: { init_logit_bias: [null], multimodal_cfg: [null] },
  // custom_text nests the text tower under `text.` and nonscalar_logit_scale stores logit_scale as
  // [1]: the key adapters undo both (weights/keymap/open-clip.ts).
  inert: ['custom_text', 'nonscalar_logit_scale', 'init_logit_scale', 'output_dict', 'cast_dtype'],
};

const VISION: Section = {
  sizes: { layers: 12, width: 768, head_width: 64, mlp_ratio: 4, patch_size: 16, image_size: 224 },
  fixed: {
    timm_model_name: [null],
    attentional_pool: [false],
    pool_type: ['tok'],
    output_tokens: [false],
    ls_init_value: [null],
    no_ln_pre: [false],
    pos_embed_type: ['learnable'],
    final_ln_after_pool: [false],
    act_kwargs: NO_KWARGS,
    norm_kwargs: NO_KWARGS,
    ...CUSTOM_BLOCK,
  },
  inert: [
    'patch_dropout',
    'image_seq_len',
    'attn_pooler_queries',
    'attn_pooler_heads',
    'timm_model_pretrained',
    'timm_pool',
    'timm_proj',
    'timm_proj_bias',
    'timm_drop',
    'timm_drop_path',
    'timm_model_kwargs',
  ],
};

const TEXT: Section = {
  sizes: { context_length: 77, vocab_size: 49408, width: 512, heads: 8, layers: 12, mlp_ratio: 4 },
  fixed: {
    hf_model_name: [null, ''],
    hf_tokenizer_name: [null, ''],
    tokenizer_kwargs: [null, {}, { clean: 'lower' }],
    tokenizer_type: [null, ''],
    text_arch: ['clip'],
    variable_text: [false],
    pool_type: ['argmax'],
    proj_type: ['linear'],
    proj_bias: [false],
    output_tokens: [false],
    ls_init_value: [null],
    embed_cls: [false],
    no_causal_mask: [false],
    final_ln_after_pool: [false],
    act_kwargs: NO_KWARGS,
    norm_kwargs: NO_KWARGS,
    ...CUSTOM_BLOCK,
    // Newer open_clip's tri-state biases and norms: at their default, the classic text tower.
    attention_bias: [null, true],
    mlp_bias: [null, true],
    norm_type: [null, 'layernorm'],
    reg_tokens: [0],
    pre_norm: [false],
    norm_placement: ['pre'],
    value_residual: [false],
    attn_gated: [false],
  },
  inert: [
    'pad_id',
    'bos_id',
    'eos_id',
    'tiktoken_name',
    'tokenizer_mode',
    'hf_model_pretrained',
    'hf_proj_type',
    'hf_pooler_type',
    'hf_model_config',
    'attention_mode',
    'pos_embed',
    'rope_temperature',
    'mlp_type',
    'norm_eps',
    'gate_bias',
    'zero_init_residual',
  ],
};

const PREPROCESS: Section = {
  sizes: {
    mean: [0.48145466, 0.4578275, 0.40821073],
    std: [0.26862954, 0.26130258, 0.27577711],
    resize_mode: 'shortest',
  },
  fixed: { interpolation: ['bicubic'], mode: ['RGB'] },
  inert: ['size', 'fill_color'], // the size is vision_cfg.image_size; fill_color only pads in 'longest' mode
};

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The section's sizes (defaults filled in), after refusing what it does not implement. */
function readSection(obj: unknown, section: Section, where: string, file: string): Json {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj))
    throw new ConfigError(`${file}: ${where} must be an object`);
  const out: Json = { ...section.sizes };
  for (const [key, value] of Object.entries(obj as Json)) {
    const accepted = section.fixed[key];
    if (key in section.sizes) out[key] = value;
    else if (accepted) {
      if (!accepted.some((a) => sameJson(a, value ?? null))) {
        throw new ConfigError(
          `${file}: ${where}.${key} = ${JSON.stringify(value)} is not supported ` +
            `(only ${accepted.map((a) => JSON.stringify(a)).join(' or ')}: the towers of open_clip's plain CLIP)`,
        );
      }
    } else if (!section.inert.includes(key)) {
      throw new ConfigError(
        `${file}: ${where}.${key} is not a setting this loader knows (open_clip ≤ 3.3 CLIP configs); ` +
          'refusing rather than guessing what it changes',
      );
    }
  }
  return out;
}

function positiveInt(value: unknown, key: string, file: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new ConfigError(`${file}: ${key} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

function positiveNumber(value: unknown, key: string, file: string): number {
  if (typeof value !== 'number' || !(value > 0))
    throw new ConfigError(`${file}: ${key} must be a positive number, got ${JSON.stringify(value)}`);
  return value;
}

/** image_size: an int, or [h, w] with h = w (our towers and transforms are square). */
function imageSize(value: unknown, file: string): number {
  const key = 'model_cfg.vision_cfg.image_size';
  if (!Array.isArray(value)) return positiveInt(value, key, file);
  if (value.length !== 2 || value[0] !== value[1])
    throw new ConfigError(`${file}: ${key} ${JSON.stringify(value)}: only square inputs are supported`);
  return positiveInt(value[0], key, file);
}

/** MLP hidden width int(width · mlp_ratio), declared only when it is not the default 4 · width. */
function mlpWidth(width: number, ratio: unknown, path: string, key: string, file: string): DeclaredSize[] {
  const hidden = Math.floor(width * positiveNumber(ratio, key, file));
  return hidden === 4 * width ? [] : [{ path, value: hidden, key }];
}

function visionSettings(cfg: Json, file: string): { heads: number; declared: DeclaredSize[] } {
  const key = (k: string) => `model_cfg.vision_cfg.${k}`;
  const width = positiveInt(cfg.width, key('width'), file);
  const headWidth = positiveInt(cfg.head_width, key('head_width'), file);
  const size = imageSize(cfg.image_size, file);
  const declared: DeclaredSize[] = [
    { path: 'vision.width', value: width, key: key('width') },
    { path: 'vision.imageResolution', value: size, key: key('image_size') },
  ];
  if (Array.isArray(cfg.layers)) {
    // ModifiedResNet: its attention pool works on width · 32 channels.
    if (cfg.layers.length !== 4)
      throw new ConfigError(`${file}: ${key('layers')} must be one int (ViT) or 4 ints (ModifiedResNet)`);
    const layers = cfg.layers.map((n, i) => positiveInt(n, `${key('layers')}[${i}]`, file));
    declared.push(
      { path: 'vision.kind', value: 'resnet', key: key('layers') },
      { path: 'vision.layers', value: layers, key: key('layers') },
    );
    return { heads: Math.floor((width * 32) / headWidth), declared };
  }
  const layers = positiveInt(cfg.layers, key('layers'), file);
  declared.push(
    { path: 'vision.kind', value: 'vit', key: key('layers') },
    { path: 'vision.layers', value: layers, key: key('layers') },
    { path: 'vision.patchSize', value: positiveInt(cfg.patch_size, key('patch_size'), file), key: key('patch_size') },
    ...mlpWidth(width, cfg.mlp_ratio, 'vision.mlpWidth', key('mlp_ratio'), file),
  );
  return { heads: Math.floor(width / headWidth), declared };
}

function textSettings(cfg: Json, file: string): { heads: number; declared: DeclaredSize[] } {
  const key = (k: string) => `model_cfg.text_cfg.${k}`;
  const width = positiveInt(cfg.width, key('width'), file);
  const declared: DeclaredSize[] = [
    { path: 'text.kind', value: 'transformer', key: 'model_cfg.text_cfg' },
    { path: 'text.width', value: width, key: key('width') },
    { path: 'text.layers', value: positiveInt(cfg.layers, key('layers'), file), key: key('layers') },
    {
      path: 'text.contextLength',
      value: positiveInt(cfg.context_length, key('context_length'), file),
      key: key('context_length'),
    },
    { path: 'text.vocabSize', value: positiveInt(cfg.vocab_size, key('vocab_size'), file), key: key('vocab_size') },
    ...mlpWidth(width, cfg.mlp_ratio, 'text.mlpWidth', key('mlp_ratio'), file),
  ];
  return { heads: positiveInt(cfg.heads, key('heads'), file), declared };
}

function preprocessSettings(cfg: unknown, file: string): PreprocessSettings {
  const pp = readSection(cfg ?? {}, PREPROCESS, 'preprocess_cfg', file);
  const triple = (k: 'mean' | 'std') => {
    const v = pp[k];
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number')) {
      throw new ConfigError(`${file}: preprocess_cfg.${k} must be 3 numbers (R, G, B), got ${JSON.stringify(v)}`);
    }
    return v as unknown as [number, number, number];
  };
  const modes: Record<string, PreprocessSettings['resizeMode']> = { shortest: 'shortest-side-crop', squash: 'square' };
  const resizeMode = modes[String(pp.resize_mode)];
  if (!resizeMode) {
    throw new ConfigError(
      `${file}: preprocess_cfg.resize_mode = ${JSON.stringify(pp.resize_mode)} is not supported (only "shortest" or ` +
        `"squash")`,
    );
  }
  return { mean: triple('mean'), std: triple('std'), resizeMode };
}

/** What an open_clip_config.json says (`json` is the whole file: { model_cfg, preprocess_cfg }). */
export function openClipSettings(json: Json, file = '<config>'): OpenClipSettings {
  const model = readSection(json.model_cfg, MODEL, 'model_cfg', file);
  const vision = visionSettings(readSection(model.vision_cfg, VISION, 'model_cfg.vision_cfg', file), file);
  const text = textSettings(readSection(model.text_cfg, TEXT, 'model_cfg.text_cfg', file), file);
  if (typeof model.quick_gelu !== 'boolean')
    throw new ConfigError(`${file}: model_cfg.quick_gelu must be true or false`);
  const embedDim = positiveInt(model.embed_dim, 'model_cfg.embed_dim', file);
  return {
    overrides: {
      visionHeads: vision.heads,
      textHeads: text.heads,
      activation: model.quick_gelu ? 'quick_gelu' : 'gelu',
      declared: [
        { path: 'embedDim', value: embedDim, key: 'model_cfg.embed_dim' },
        ...vision.declared,
        ...text.declared,
      ],
    },
    preprocess: preprocessSettings(json.preprocess_cfg, file),
  };
}
