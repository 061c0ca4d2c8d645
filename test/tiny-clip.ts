// The tiny random-weight model the CLI tests run: 8-dimensional embeddings, 16×16 images, a
// vocabulary of 512 byte symbols + 2 merges + start/end tokens = 516 ids.
import type { ClipConfig } from '../src/models/config.js';

export const TINY_MERGES = '#version: tiny\nc a\nca t</w>\n';

export const TINY_CFG: ClipConfig = {
  embedDim: 8,
  vision: { kind: 'vit', width: 64, layers: 1, heads: 1, patchSize: 8, imageResolution: 16 },
  text: { kind: 'transformer', width: 64, layers: 1, heads: 1, contextLength: 16, vocabSize: 516 },
};
