// Hugging Face `CLIPModel` names → the canonical (OpenAI) names.
// The correspondence is transformers' convert_clip_original_pytorch_to_hf.py read backwards:
// q/k/v projections are the three row blocks of nn.MultiheadAttention's in_proj (in that order),
// and the two projections are nn.Linear weights [out, in], i.e. the transposes of OpenAI's
// `x @ proj` matrices.
import { ConfigError } from '../../errors.js';
import type { StateDict } from '../../tensor.js';
import { concat0, transpose2d } from './raw.js';

const WHOLE_MODEL: ReadonlyArray<readonly [hf: string, canonical: string, transpose?: 'transpose']> = [
  ['vision_model.embeddings.patch_embedding.weight', 'visual.conv1.weight'],
  ['vision_model.embeddings.class_embedding', 'visual.class_embedding'],
  ['vision_model.embeddings.position_embedding.weight', 'visual.positional_embedding'],
  ['vision_model.pre_layrnorm.weight', 'visual.ln_pre.weight'], // sic: "layrnorm" in transformers
  ['vision_model.pre_layrnorm.bias', 'visual.ln_pre.bias'],
  ['vision_model.post_layernorm.weight', 'visual.ln_post.weight'],
  ['vision_model.post_layernorm.bias', 'visual.ln_post.bias'],
  ['visual_projection.weight', 'visual.proj', 'transpose'],
  ['text_model.embeddings.token_embedding.weight', 'token_embedding.weight'],
  ['text_model.embeddings.position_embedding.weight', 'positional_embedding'],
  ['text_model.final_layer_norm.weight', 'ln_final.weight'],
  ['text_model.final_layer_norm.bias', 'ln_final.bias'],
  ['text_projection.weight', 'text_projection', 'transpose'],
  ['logit_scale', 'logit_scale'],
];

const TOWERS: ReadonlyArray<readonly [hf: string, canonical: string]> = [
  ['vision_model.encoder.layers', 'visual.transformer.resblocks'],
  ['text_model.encoder.layers', 'transformer.resblocks'],
];

const PER_LAYER: ReadonlyArray<readonly [hf: string, canonical: string]> = [
  ['layer_norm1.weight', 'ln_1.weight'],
  ['layer_norm1.bias', 'ln_1.bias'],
  ['self_attn.out_proj.weight', 'attn.out_proj.weight'],
  ['self_attn.out_proj.bias', 'attn.out_proj.bias'],
  ['layer_norm2.weight', 'ln_2.weight'],
  ['layer_norm2.bias', 'ln_2.bias'],
  ['mlp.fc1.weight', 'mlp.c_fc.weight'],
  ['mlp.fc1.bias', 'mlp.c_fc.bias'],
  ['mlp.fc2.weight', 'mlp.c_proj.weight'],
  ['mlp.fc2.bias', 'mlp.c_proj.bias'],
];

// Non-persistent buffers that older transformers versions still saved: recomputed, not weights.
const IGNORED = /^(vision_model|text_model)\.embeddings\.position_ids$/;

export function isHuggingFaceClip(keys: Iterable<string>): boolean {
  for (const key of keys) if (key.startsWith('vision_model.') || key.startsWith('text_model.')) return true;
  return false;
}

/**
 * Every HF tensor lands under its canonical name; a missing or unknown key is a ConfigError naming it.
 * `visionOnly` maps only the vision tower, visual_projection and logit_scale (for models whose text
 * tower is not CLIP's, e.g. Chinese-CLIP's BERT).
 */
export function huggingFaceToCanonical(hf: StateDict, visionOnly = false): StateDict {
  const wanted = (key: string) => !visionOnly || /^(vision_model\.|visual_projection\.|logit_scale$)/.test(key);
  const used = new Set<string>();
  const take = (key: string) => {
    const t = hf.get(key);
    if (!t) throw new ConfigError(`Hugging Face CLIPModel state dict: missing key ${key}`);
    used.add(key);
    return t;
  };
  const out: StateDict = new Map();
  for (const [key, canonical, transpose] of WHOLE_MODEL) {
    if (!wanted(key)) continue;
    out.set(canonical, transpose ? transpose2d(take(key), key) : take(key));
  }
  for (const [hfPrefix, prefix] of TOWERS) {
    if (!wanted(hfPrefix)) continue;
    // At least one layer: a tower without layers then fails on its layer 0 keys, by name.
    const layers = Math.max(1, layerCount(hf, hfPrefix));
    for (let i = 0; i < layers; i++) {
      const from = `${hfPrefix}.${i}`;
      const to = `${prefix}.${i}`;
      for (const param of ['weight', 'bias'] as const) {
        const names = ['q', 'k', 'v'].map((p) => `${from}.self_attn.${p}_proj.${param}`);
        out.set(`${to}.attn.in_proj_${param}`, concat0(names.map(take), names));
      }
      for (const [key, canonical] of PER_LAYER) out.set(`${to}.${canonical}`, take(`${from}.${key}`));
    }
  }
  for (const key of hf.keys()) {
    if (!used.has(key) && !IGNORED.test(key)) {
      throw new ConfigError(
        `Hugging Face CLIPModel state dict: unexpected key ${key} (not part of the OpenAI CLIP architecture)`,
      );
    }
  }
  return out;
}

function layerCount(sd: StateDict, prefix: string): number {
  const pattern = new RegExp(`^${prefix.replaceAll('.', '\\.')}\\.(\\d+)\\.`);
  let count = 0;
  for (const key of sd.keys()) {
    const m = pattern.exec(key);
    if (m) count = Math.max(count, Number(m[1]) + 1);
  }
  return count;
}
