// Any supported state dict → canonical (OpenAI) key names, so models/ knows one naming only.
// Each layout says how to recognise it by key names and how to convert it; the first match wins.
import type { StateDict, TensorShape } from '../../tensor.js';
import { chineseClipToCanonical, isChineseClip } from './chinese-clip.js';
import { huggingFaceToCanonical, isHuggingFaceClip } from './hf.js';
import { isOpenClipPackaging, openClipToCanonical } from './open-clip.js';

export type KeyLayout = 'huggingface' | 'chinese-clip' | 'open_clip' | 'openai';

interface LayoutAdapter {
  readonly layout: KeyLayout;
  matches(keys: readonly string[]): boolean;
  toCanonical(sd: StateDict): StateDict;
}

/** The layouts whose conversion only renames keys, with the name their errors give them. */
const RENAMING = { open_clip: 'open_clip', openai: 'OpenAI CLIP' } as const;

const ADAPTERS: readonly LayoutAdapter[] = [
  // Before plain Hugging Face: ChineseCLIPModel also has vision_model.* / text_model.* keys.
  { layout: 'chinese-clip', matches: isChineseClip, toCanonical: chineseClipToCanonical },
  { layout: 'huggingface', matches: isHuggingFaceClip, toCanonical: (sd) => huggingFaceToCanonical(sd) },
  {
    layout: 'open_clip',
    matches: isOpenClipPackaging,
    toCanonical: (sd) => openClipToCanonical(sd, RENAMING.open_clip),
  },
  // Last: plain OpenAI names. open_clip's checker doubles as validation of every key.
  { layout: 'openai', matches: () => true, toCanonical: (sd) => openClipToCanonical(sd, RENAMING.openai) },
];

/** Which naming a state dict uses (after removing a DistributedDataParallel `module.` prefix). */
export function detectLayout(sd: StateDict): KeyLayout {
  return adapterFor([...withoutModulePrefix(sd).keys()]).layout;
}

/** Renames (and where needed transposes / concatenates) tensors onto the canonical OpenAI names. */
export function toCanonical(sd: StateDict): StateDict {
  const unwrapped = withoutModulePrefix(sd);
  return adapterFor([...unwrapped.keys()]).toCanonical(unwrapped);
}

function adapterFor(keys: readonly string[]): LayoutAdapter {
  const adapter = ADAPTERS.find((a) => a.matches(keys));
  if (!adapter) throw new Error('no key layout matched (the last one matches every state dict)');
  return adapter;
}

/**
 * Canonical names for a layout that only renames (OpenAI, open_clip packaging), of tensors or of
 * their shapes alone (readCheckpointShapes), so a model's config is known before any tensor is
 * read; undefined for layouts converted by value (Hugging Face, Chinese-CLIP).
 */
export function renamedToCanonical<T extends TensorShape>(sd: Map<string, T>): Map<string, T> | undefined {
  const unwrapped = withoutModulePrefix(sd);
  const { layout } = adapterFor([...unwrapped.keys()]);
  return layout === 'open_clip' || layout === 'openai' ? openClipToCanonical(unwrapped, RENAMING[layout]) : undefined;
}

/** Checkpoints saved from a DistributedDataParallel model prefix every key with `module.`. */
function withoutModulePrefix<T>(sd: Map<string, T>): Map<string, T> {
  const keys = [...sd.keys()];
  if (keys.length === 0 || !keys.every((k) => k.startsWith('module.'))) return sd;
  return new Map([...sd].map(([k, t]) => [k.slice('module.'.length), t]));
}
