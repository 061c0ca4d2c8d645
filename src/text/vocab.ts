// Where the BPE vocabulary comes from: CLIP's merges file (bpe_simple_vocab_16e6.txt.gz, gzip'd
// or plain), or a Hugging Face tokenizer's vocab.json + merges.txt.
import { at } from '../checked.js';
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { InputError } from '../errors.js';
import { END_OF_WORD, bytesToUnicode } from './bpe.js';
import { pySplit } from './unicode.js';

export const START_OF_TEXT = '<|startoftext|>';
export const END_OF_TEXT = '<|endoftext|>';

/**
 * How text writes the start and end tokens (ids 49406, 49407 in CLIP's vocabulary). OpenAI's
 * tokenizer and Hugging Face's vocab.json call them <|startoftext|> / <|endoftext|>; open_clip's
 * SimpleTokenizer calls the same ids <start_of_text> / <end_of_text>, where OpenAI's names are
 * ordinary text.
 */
export interface SpecialTokens {
  readonly start: string;
  readonly end: string;
}
export const OPENAI_SPECIAL_TOKENS: SpecialTokens = { start: START_OF_TEXT, end: END_OF_TEXT };
export const OPEN_CLIP_SPECIAL_TOKENS: SpecialTokens = { start: '<start_of_text>', end: '<end_of_text>' };

/** The reference reads lines[1:49152-256-2+1] of the merges file: 48894 merges, vocab 49408. */
export const MAX_MERGES = 49152 - 256 - 2;

export const DEFAULT_BPE_FILE = 'bpe_simple_vocab_16e6.txt.gz';

/** Vocab string → id, and the merges in rank order. */
export interface BpeVocab {
  readonly encoder: ReadonlyMap<string, number>;
  readonly merges: readonly (readonly [string, string])[];
}

/** Merge lines after the header line, at most MAX_MERGES, each split like Python's str.split(). */
function parseMerges(lines: readonly string[], source: string): [string, string][] {
  return lines
    .slice(1)
    .filter((line) => line.trim() !== '') // a short file's trailing newline is not a merge
    .slice(0, MAX_MERGES)
    .map((line, i) => {
      const parts = pySplit(line);
      if (parts.length !== 2)
        throw new InputError(
          `${source}: merge line ${i + 2} has ${parts.length} symbols, expected 2: ${JSON.stringify(line)}`,
        );
      return [at(parts, 0), at(parts, 1)];
    });
}

/** SimpleTokenizer.__init__: 256 byte symbols, their '</w>' forms, one symbol per merge, SOT, EOT. */
export function vocabFromMerges(text: string, source = 'merges text'): BpeVocab {
  const merges = parseMerges(text.split('\n'), source);
  const bytes = [...bytesToUnicode().values()];
  const symbols = [
    ...bytes,
    ...bytes.map((b) => b + END_OF_WORD),
    ...merges.map(([a, b]) => a + b),
    START_OF_TEXT,
    END_OF_TEXT,
  ];
  // dict(zip(vocab, range(len(vocab)))): a repeated string keeps its last id.
  const encoder = new Map<string, number>();
  symbols.forEach((symbol, id) => encoder.set(symbol, id));
  return { encoder, merges };
}

/** A Hugging Face CLIPTokenizer's files: vocab.json (string → id) and merges.txt ('#version' header). */
export function vocabFromHuggingFace(
  vocabJson: string,
  mergesTxt: string,
  source = 'Hugging Face tokenizer',
): BpeVocab {
  let parsed: unknown;
  try {
    parsed = JSON.parse(vocabJson);
  } catch (e) {
    throw new InputError(`${source}: vocab.json is not JSON (${(e as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InputError(`${source}: vocab.json must be an object mapping token strings to ids`);
  }
  const encoder = new Map<string, number>();
  for (const [symbol, id] of Object.entries(parsed)) {
    if (!Number.isInteger(id))
      throw new InputError(
        `${source}: vocab.json id of ${JSON.stringify(symbol)} is ${JSON.stringify(id)}, expected an integer`,
      );
    encoder.set(symbol, id as number);
  }
  for (const special of [START_OF_TEXT, END_OF_TEXT]) {
    if (!encoder.has(special)) throw new InputError(`${source}: vocab.json has no ${special}`);
  }
  // CLIPTokenizer reads merges.txt like the reference: the first line is a header.
  return { encoder, merges: parseMerges(mergesTxt.split('\n'), `${source} merges.txt`) };
}

/** Text of a merges file's bytes, gunzipped (by the platform's `gunzip`) when they start with the gzip magic bytes. */
export function mergesText(bytes: Uint8Array, gunzip: (gz: Uint8Array) => Uint8Array): string {
  return new TextDecoder('utf-8', { ignoreBOM: true }).decode(
    bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzip(bytes) : bytes,
  );
}

/** Text of a merges file, gunzipped when it starts with the gzip magic bytes. */
export function readMergesFile(path: string): string {
  if (!existsSync(path)) throw new InputError(`BPE merges file not found: ${path}`);
  return mergesText(readFileSync(path), gunzipSync);
}
