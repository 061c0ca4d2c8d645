// clip.tokenize with the default vocabulary, loaded once from the file findMergesFile picks.
import type { Tensor } from '../tensor.js';
import { type TokenizeOptions, Tokenizer } from './tokenizer.js';
import { findMergesFile } from './vocab.js';

const loaded = new Map<string, Tokenizer>();

/** The tokenizer of `bpePath`, else $CLIP_BPE_PATH, else the cached bpe_simple_vocab_16e6.txt.gz (loaded once per path). */
export function defaultTokenizer(bpePath?: string): Tokenizer {
  const path = findMergesFile(bpePath);
  let tokenizer = loaded.get(path);
  if (tokenizer === undefined) {
    tokenizer = Tokenizer.fromMergesFile(path);
    loaded.set(path, tokenizer);
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
