// clip.tokenize with the default vocabulary, loaded once from the file findMergesFile picks.
import type { Tensor } from '../tensor.js';
import { type TokenizeOptions, Tokenizer } from './tokenizer.js';
import { findMergesFile, OPENAI_SPECIAL_TOKENS, type SpecialTokens } from './vocab.js';

const loaded = new Map<string, Tokenizer>();

/**
 * The tokenizer of `bpePath`, else $CLIP_BPE_PATH, else the cached bpe_simple_vocab_16e6.txt.gz
 * (loaded once per path and special-token names).
 */
export function defaultTokenizer(bpePath?: string, specialTokens: SpecialTokens = OPENAI_SPECIAL_TOKENS): Tokenizer {
  const path = findMergesFile(bpePath);
  const key = `${path}\0${specialTokens.start}`;
  let tokenizer = loaded.get(key);
  if (tokenizer === undefined) {
    tokenizer = Tokenizer.fromMergesFile(path, specialTokens);
    loaded.set(key, tokenizer);
  }
  return tokenizer;
}

export interface DefaultTokenizeOptions extends TokenizeOptions {
  /** Tokenizer to use; default: defaultTokenizer(bpePath). */
  tokenizer?: Tokenizer;
  /** Merges file for the default tokenizer. */
  bpePath?: string;
}

/** clip.tokenize(texts, context_length=77, truncate=False): int32 [N, contextLength]. */
export function tokenize(texts: string | readonly string[], options: DefaultTokenizeOptions = {}): Tensor<Int32Array> {
  const tokenizer = options.tokenizer ?? defaultTokenizer(options.bpePath);
  return tokenizer.tokenize(texts, options);
}
