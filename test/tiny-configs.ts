// Tiny architectures shared by tests that build random-weight models.
import type { BertConfig, ClipConfig } from '../src/models/config.js';
import { Tokenizer } from '../src/text/index.js';

/** A two-layer Chinese-CLIP BERT text tower (contexts of 12 tokens, 30-token vocabulary). */
export const TINY_BERT: BertConfig = {
  kind: 'bert',
  width: 64,
  layers: 2,
  heads: 2,
  intermediate: 96,
  maxPositions: 20,
  typeVocabSize: 2,
  vocabSize: 30,
  contextLength: 12,
  activation: 'gelu',
};

/** A BPE vocabulary of the 512 byte symbols, one merge and SOT/EOT (ids 513, 514): a small token table. */
export const byteTokenizer = (): Tokenizer => Tokenizer.fromMergesText('#version: 0.2\nr e\n');

/** A one-layer ViT and text transformer over byteTokenizer()'s 515 tokens, for training tests. */
export const TINY_TRAINABLE: ClipConfig = {
  embedDim: 16,
  vision: { kind: 'vit', width: 64, layers: 1, heads: 1, patchSize: 16, imageResolution: 32 },
  text: { kind: 'transformer', width: 64, layers: 1, heads: 1, contextLength: 77, vocabSize: 515 },
  activation: 'quick_gelu',
};
