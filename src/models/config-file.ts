// Model config files: what a checkpoint's shapes cannot tell. Reads open_clip's
// open_clip_config.json (open-clip-config.ts), the Chinese-CLIP reference schema
// (`vision_head_width`, `text_num_attention_heads`, `text_hidden_act`, the keyword arguments of
// cn_clip's CLIP) and Hugging Face `config.json` (`text_config`/`vision_config`).

import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import type { ConfigOverrides } from './config.js';
import { openClipSettings, type PreprocessSettings } from './open-clip-config.js';

type Json = Record<string, unknown>;

/** Everything a config file says about a model beyond its weights. */
export interface ModelSettings {
  overrides: ConfigOverrides;
  /** The image transform it asks for; absent: the one the text tower implies (see load.ts). */
  preprocess?: PreprocessSettings;
  /** 'open_clip': BPE special tokens named `<start_of_text>`/`<end_of_text>` (open_clip's SimpleTokenizer). */
  tokenizer?: 'open_clip';
}

function int(obj: Json, key: string, file: string): number | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
    throw new ConfigError(`${file}: "${key}" must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

/** Chinese-CLIP's schema and Hugging Face config.json. */
function hfOrChineseClipOverrides(json: Json, file: string): ConfigOverrides {
  const text = (json.text_config as Json | undefined) ?? json;
  const vision = (json.vision_config as Json | undefined) ?? json;
  if (json.text_hidden_act !== undefined && json.text_hidden_act !== 'gelu') {
    throw new ConfigError(
      `${file}: text_hidden_act "${String(json.text_hidden_act)}" is not supported (Chinese-CLIP's BERT uses "gelu")`,
    );
  }
  const overrides: ConfigOverrides = {};
  // HF config.json: vision_config.hidden_act "quick_gelu" (OpenAI, and Chinese-CLIP's ViT) or "gelu".
  if (json.vision_config && vision.hidden_act === 'gelu') overrides.activation = 'gelu';
  const textHeads = int(text, 'text_num_attention_heads', file) ?? int(text, 'num_attention_heads', file);
  if (textHeads) overrides.textHeads = textHeads;
  const visionWidth = int(vision, 'vision_width', file) ?? int(vision, 'hidden_size', file);
  const headWidth = int(vision, 'vision_head_width', file);
  const visionHeads = int(vision, 'num_attention_heads', file);
  if (visionHeads && json.vision_config) overrides.visionHeads = visionHeads;
  else if (visionWidth && headWidth && headWidth !== 64) {
    // cn_clip: ViT heads = width / head_width; ResNet attention-pool heads = width · 32 / head_width.
    const resnet = vision.vision_patch_size === null || vision.vision_patch_size === undefined;
    overrides.visionHeads = (resnet ? visionWidth * 32 : visionWidth) / headWidth;
  }
  return overrides;
}

/** A parsed config file's settings; open_clip's is recognised by its `model_cfg`. */
export function modelSettingsFromJson(json: Json, file = '<config>'): ModelSettings {
  if (json.model_cfg !== undefined) return { ...openClipSettings(json, file), tokenizer: 'open_clip' };
  return { overrides: hfOrChineseClipOverrides(json, file) };
}

export function configOverridesFromJson(json: Json, file = '<config>'): ConfigOverrides {
  return modelSettingsFromJson(json, file).overrides;
}

/** The parsed JSON of a config file (errors name the file). */
export function readConfigJson(path: string): Json {
  try {
    const json = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('not a JSON object');
    return json as Json;
  } catch (e) {
    throw new ConfigError(`${path}: not a readable JSON model config (${(e as Error).message})`);
  }
}

export function readModelSettings(path: string): ModelSettings {
  return modelSettingsFromJson(readConfigJson(path), path);
}

export function readConfigFile(path: string): ConfigOverrides {
  return readModelSettings(path).overrides;
}
