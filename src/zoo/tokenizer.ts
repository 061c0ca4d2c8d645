// The default vocabulary: CLIP's merges file, looked for where downloads put it, and clip.tokenize
// with it (loaded once per file).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import {
  DEFAULT_BPE_FILE,
  OPENAI_SPECIAL_TOKENS,
  Tokenizer,
  type SpecialTokens,
  type TokenizeOptions,
} from '../text/index.js';
import { cacheDir } from './cache.js';

/**
 * The merges file to use when none is given: `bpePath`, else $CLIP_BPE_PATH, else
 * bpe_simple_vocab_16e6.txt.gz in the model cache (`cacheDir()`).
 */
export function findMergesFile(bpePath?: string): string {
  const given = bpePath ?? process.env.CLIP_BPE_PATH;
  if (given !== undefined && given !== '') {
    if (!existsSync(given))
      throw new InputError(
        `BPE merges file not found: ${given} (given ` +
          `${bpePath !== undefined ? 'with --bpe / bpePath' : 'in CLIP_BPE_PATH'})`,
      );
    return given;
  }
  const cached = join(cacheDir(), DEFAULT_BPE_FILE);
  if (existsSync(cached)) return cached;
  throw new InputError(
    `CLIP's BPE vocabulary ${DEFAULT_BPE_FILE} was not found in ${cacheDir()}. ` +
      'Downloading a model puts it there; or take clip/bpe_simple_vocab_16e6.txt.gz from the openai/CLIP ' +
      'repository and pass its path (--bpe <path>, the bpePath option, or the CLIP_BPE_PATH environment variable).',
  );
}

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
