// Text side of CLIP: cleaning and byte-level BPE identical to the reference's clip.tokenize.
export { Tokenizer, type TokenizeOptions } from './tokenizer.js';
export {
  type BpeVocab,
  type SpecialTokens,
  OPENAI_SPECIAL_TOKENS,
  OPEN_CLIP_SPECIAL_TOKENS,
  vocabFromMerges,
  vocabFromHuggingFace,
  readMergesFile,
  DEFAULT_BPE_FILE,
} from './vocab.js';
export { basicClean, whitespaceClean, cleanText, splitPieces } from './clean.js';
export { htmlUnescape } from './html.js';
export { WordPieceTokenizer, parseVocabText, type TextTokenizer, type TextTokenizeOptions } from './wordpiece.js';
export { basicTokenize } from './bert-basic.js';
