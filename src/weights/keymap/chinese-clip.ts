// Chinese-CLIP state dicts → canonical names. Its text tower keeps the reference's own BERT names
// (`bert.embeddings.*`, `bert.encoder.layer.<i>.*`), which models/bert.ts reads directly; the
// vision tower already uses OpenAI's names. Two layouts:
// - the training checkpoints (`{epoch, step, name, state_dict}`, `module.` removed upstream):
//   drop the unused `bert.pooler.*` as every reference loader does;
// - Hugging Face `ChineseCLIPModel`: `text_model.*` is the same BERT under another prefix,
//   `vision_model.*` / `visual_projection` follow HF CLIP naming, projections are nn.Linear weights.
import { ConfigError } from '../../errors.js';
import type { StateDict } from '../../tensor.js';
import { huggingFaceToCanonical } from './hf.js';
import { transpose2d } from './raw.js';

const POOLER = /^(bert|text_model)\.pooler\./;

export function isChineseClip(keys: readonly string[]): boolean {
  return keys.some((k) => k.startsWith('bert.') || k.startsWith('text_model.embeddings.word_embeddings.'));
}

export function chineseClipToCanonical(sd: StateDict): StateDict {
  const keys = [...sd.keys()];
  if (keys.some((k) => k.startsWith('bert.'))) {
    return new Map([...sd].filter(([k]) => !POOLER.test(k)));
  }
  const out = huggingFaceToCanonical(
    new Map([...sd].filter(([k]) => !k.startsWith('text_model.') && k !== 'text_projection.weight')),
    true,
  );
  for (const [key, t] of sd) {
    if (
      key.startsWith('text_model.') &&
      !POOLER.test(key) &&
      !key.endsWith('position_ids') &&
      !key.endsWith('token_type_ids')
    ) {
      out.set(`bert.${key.slice('text_model.'.length)}`, t);
    }
  }
  const projection = sd.get('text_projection.weight');
  if (!projection)
    throw new ConfigError('Hugging Face ChineseCLIPModel state dict: missing key text_projection.weight');
  out.set('text_projection', transpose2d(projection, 'text_projection.weight'));
  return out;
}
