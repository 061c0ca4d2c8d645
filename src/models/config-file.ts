// Model config files: what a checkpoint's shapes cannot tell. Reads the Chinese-CLIP reference
// schema (`vision_head_width`, `text_num_attention_heads`, `text_hidden_act`, the keyword
// arguments of cn_clip's CLIP) and Hugging Face `config.json` (`text_config`/`vision_config`).

import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import type { ConfigOverrides } from './config.js';

type Json = Record<string, unknown>;

function int(obj: Json, key: string, file: string): number | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new ConfigError(`${file}: "${key}" must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

export function configOverridesFromJson(json: Json, file = '<config>'): ConfigOverrides {
  const text = (json.text_config as Json | undefined) ?? json;
  const vision = (json.vision_config as Json | undefined) ?? json;
  if (json.text_hidden_act !== undefined && json.text_hidden_act !== 'gelu') {
    throw new ConfigError(`${file}: text_hidden_act "${String(json.text_hidden_act)}" is not supported (Chinese-CLIP's BERT uses "gelu")`);
  }
  const overrides: ConfigOverrides = {};
  // open_clip_config.json: { model_cfg: { quick_gelu?: boolean, ... } } (GELU unless quick_gelu);
  // HF config.json: vision_config.hidden_act "quick_gelu" (OpenAI, and Chinese-CLIP's ViT) or "gelu".
  const modelCfg = json.model_cfg as Json | undefined;
  if ((modelCfg && modelCfg.quick_gelu !== true) || (json.vision_config && vision.hidden_act === 'gelu')) overrides.activation = 'gelu';
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

export function readConfigFile(path: string): ConfigOverrides {
  let json: Json;
  try {
    json = JSON.parse(readFileSync(path, 'utf8')) as Json;
  } catch (e) {
    throw new ConfigError(`${path}: not a readable JSON model config (${(e as Error).message})`);
  }
  return configOverridesFromJson(json, path);
}
