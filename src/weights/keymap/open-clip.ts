// open_clip checkpoints → canonical names.
//
// open_clip's `CLIP` class keeps the OpenAI module names, so its ViT and ModifiedResNet
// checkpoints already use canonical keys. What differs is packaging, handled here:
//  - training checkpoints saved under DistributedDataParallel prefix every key with `module.`;
//  - `CustomTextCLIP` (configs with "custom_text") nests the text tower under `text.`;
//  - older versions saved the causal `attn_mask` buffer; some store `logit_scale` as shape [1].
//
// Same architecture, same keys (loadable once the model code knows the two facts below):
//   OpenAI-trained weights under open_clip names (`ViT-B-32-quickgelu` … `openai`, RN50 … RN50x64);
//   LAION / DataComp / MetaCLIP ViT-B-32, ViT-B-16, ViT-L-14 (and -336) releases, e.g.
//   hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K, laion/CLIP-ViT-B-16-laion2B-s34B-b88K,
//   laion/CLIP-ViT-L-14-laion2B-s32B-b82K, laion/CLIP-ViT-B-32-DataComp.XL-s13B-b90K;
//   ViT-H-14, ViT-g-14 and ViT-bigG-14 (laion2B) as well.
// Not visible in the weights, so callers must pass them on:
//   - activation: open_clip models use nn.GELU unless the model name ends in `-quickgelu`
//     (OpenAI, MetaCLIP and laion400m `*-quickgelu` tags use QuickGELU);
//   - vision heads: ViT-H-14 / ViT-g-14 / ViT-bigG-14 use head widths 80 / 88 / 104, not the
//     reference's width / 64 rule.
// Different architecture (rejected by key name): SigLIP (`logit_bias`), layer scale (`ls_1.gamma`),
// timm towers (`visual.trunk.*`), HF text towers (`text.transformer.embeddings.*`), CoCa
// (`text_decoder.*`, `visual.attn_pool.*`), EVA-CLIP.
import { ConfigError } from '../../errors.js';
import type { TensorShape } from '../../tensor.js';
import { isCanonicalKey } from './canonical.js';

const CUSTOM_TEXT_TOWER =
  /^text\.(token_embedding\.|positional_embedding$|transformer\.resblocks\.|ln_final\.|text_projection$)/;

/** True when the keys show open_clip packaging (see above) rather than the plain OpenAI layout. */
export function isOpenClipPackaging(keys: Iterable<string>): boolean {
  for (const key of keys) if (key.startsWith('text.') || key === 'attn_mask' || key.endsWith('.attn_mask')) return true;
  return false;
}

/**
 * Undoes open_clip packaging, then requires every key to be canonical (errors name the first that
 * is not). Only names change, so it renames shapes (TensorShape) as well as tensors.
 */
export function openClipToCanonical<T extends TensorShape>(
  sd: ReadonlyMap<string, T>,
  layout = 'open_clip',
): Map<string, T> {
  const out = new Map<string, T>();
  for (const [key, tensor] of sd) {
    if (key === 'attn_mask' || key === 'text.attn_mask') continue; // a recomputed buffer, not a weight
    const name = CUSTOM_TEXT_TOWER.test(key) ? key.slice('text.'.length) : key;
    if (!isCanonicalKey(name)) {
      throw new ConfigError(
        `${layout} state dict: unexpected key ${key} (not part of the OpenAI CLIP architecture: ` +
          'SigLIP, layer-scale, timm, Hugging Face text towers and CoCa models are not supported)',
      );
    }
    out.set(name, name === 'logit_scale' && tensor.shape.length === 1 ? { ...tensor, shape: [] } : tensor);
  }
  return out;
}
