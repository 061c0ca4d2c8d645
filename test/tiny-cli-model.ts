// What the self-contained CLI tests share: the built command, and a tiny random model with a
// BPE merges file small enough to write in a line.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClipConfig } from '../src/models/config.js';

export const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
// A vocabulary of 512 byte symbols + 2 merges + start/end tokens = 516 ids.
export const MERGES = '#version: tiny\nc a\nca t</w>\n';
export const CFG: ClipConfig = {
  embedDim: 8,
  activation: 'quick_gelu',
  vision: { kind: 'vit', width: 64, layers: 1, heads: 1, patchSize: 8, imageResolution: 16 },
  text: { kind: 'transformer', width: 64, layers: 1, heads: 1, contextLength: 16, vocabSize: 516 },
};
