// What the self-contained training tests share: a tiny random-initialisable ViT CLIP with a full
// 77-token context, and a tokenizer whose table is the 512 byte symbols, one merge and SOT/EOT
// (ids 513, 514).
import type { ClipConfig } from '../src/models/config.js';
import { Tokenizer } from '../src/text/index.js';

export const tokenizer = Tokenizer.fromMergesText('#version: 0.2\nr e\n');

export const CFG: ClipConfig = {
  embedDim: 16,
  vision: { kind: 'vit', width: 64, layers: 1, heads: 1, patchSize: 16, imageResolution: 32 },
  text: { kind: 'transformer', width: 64, layers: 1, heads: 1, contextLength: 77, vocabSize: 515 },
  activation: 'quick_gelu',
};
