// Chinese-CLIP's tokenizer: BERT's FullTokenizer (basic tokenizer + greedy WordPiece) over its
// vocab.txt, and cn_clip.clip.tokenize's [CLS] … [SEP] rows (cn_clip/clip/bert_tokenizer.py, utils.py).
import { entry } from '../checked.js';
import { readFileSync } from 'node:fs';
import { InputError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { basicTokenize } from './bert-basic.js';
import { pyStrip } from './unicode.js';

export interface TextTokenizeOptions {
  /** Row length, the start and end tokens included. */
  contextLength?: number;
}

/** What a CLIP text tower needs from its tokenizer: the BPE Tokenizer or the WordPieceTokenizer. */
export interface TextTokenizer {
  /** Number of ids (rows of the token embedding). */
  readonly vocabSize: number;
  /** The context length tokenize() uses when none is given (77 for OpenAI CLIP, 52 for Chinese-CLIP). */
  readonly defaultContextLength: number;
  /** Token ids of one text, without start/end tokens. */
  encode(text: string): number[];
  /** Text of token ids (readable; not guaranteed to give back the input). */
  decode(ids: readonly number[]): string;
  /** One zero-padded int32 row per text: [texts.length, contextLength]. */
  tokenize(texts: string | readonly string[], options?: TextTokenizeOptions): Tensor<Int32Array>;
}

const UNKNOWN = '[UNK]';
const CLASSIFIER = '[CLS]';
const SEPARATOR = '[SEP]';
/** Marks a piece that continues a word. */
const CONTINUATION = '##';
/** WordpieceTokenizer.max_input_chars_per_word: longer words (in code points) are one [UNK]. */
const MAX_WORD_CODE_POINTS = 200;
const CHINESE_CLIP_CONTEXT_LENGTH = 52;

/**
 * The entries of a BERT vocab.txt, index = id, read as the reference's load_vocab does: Python's
 * text-mode readline (universal newlines: \n, \r\n and \r end a line; U+2028 does not), then
 * str.strip() on each line. The shipped vocab has a U+2028 line (→ "") and "##\u2028" (→ "##").
 */
export function parseVocabText(text: string): string[] {
  const lines = text.split(/\r\n|\r|\n/);
  if (lines[lines.length - 1] === '') lines.pop(); // after the final newline, or an empty file
  return lines.map(pyStrip);
}

export class WordPieceTokenizer implements TextTokenizer {
  readonly vocabSize: number;
  readonly defaultContextLength = CHINESE_CLIP_CONTEXT_LENGTH;
  readonly unknownToken: number;
  readonly classifierToken: number;
  readonly separatorToken: number;
  private readonly ids = new Map<string, number>();
  private readonly entries: readonly string[];
  /** Longest entry in code points: no longer substring can match, so the search starts there. */
  private readonly longestEntry: number;

  /** From the vocab entries in id order; `source` names them in errors. */
  constructor(entries: readonly string[], source = 'vocab') {
    this.entries = entries;
    this.vocabSize = entries.length;
    // A repeated entry keeps its last id, as the reference's dict does.
    entries.forEach((entry, id) => this.ids.set(entry, id));
    this.longestEntry = entries.reduce((longest, entry) => Math.max(longest, [...entry].length), 0);
    const required = (token: string): number => {
      const id = this.ids.get(token);
      if (id === undefined)
        throw new InputError(
          `${source}: the vocabulary has no ${token} entry (a BERT vocab.txt needs [UNK], [CLS] and [SEP])`,
        );
      return id;
    };
    this.unknownToken = required(UNKNOWN);
    this.classifierToken = required(CLASSIFIER);
    this.separatorToken = required(SEPARATOR);
  }

  /** From the text of a vocab.txt. */
  static fromVocabText(text: string, source = 'vocab.txt'): WordPieceTokenizer {
    return new WordPieceTokenizer(parseVocabText(text), source);
  }

  /** From a vocab.txt file (UTF-8, as the reference opens it; invalid UTF-8 is an error there too). */
  static fromVocabFile(path: string): WordPieceTokenizer {
    return WordPieceTokenizer.fromVocabBytes(readFileSync(path), path);
  }

  /** From the bytes of a vocab.txt (`source` names it in errors). */
  static fromVocabBytes(bytes: Uint8Array, source = 'vocab.txt'): WordPieceTokenizer {
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch (e) {
      if (e instanceof TypeError) throw new InputError(`${source}: not valid UTF-8 (a BERT vocab.txt is UTF-8 text)`);
      throw e;
    }
    return WordPieceTokenizer.fromVocabText(text, source);
  }

  /** BasicTokenizer.tokenize: cleaned, lower-cased, accent-free words and punctuation marks. */
  basicTokens(text: string): string[] {
    return basicTokenize(text);
  }

  /** FullTokenizer.tokenize: every basic token cut into vocab entries ("##" on continuations), or [UNK]. */
  wordpieces(text: string): string[] {
    return this.basicTokens(text).flatMap((word) => this.wordPiecesOf(word));
  }

  /** Ids of the wordpieces, without [CLS]/[SEP] and not truncated. */
  encode(text: string): number[] {
    return this.wordpieces(text).map((piece) => entry(this.ids, piece));
  }

  /**
   * The entries of `ids` joined by spaces, continuations ("##…") glued to the piece before (what
   * Hugging Face's convert_tokens_to_string does). Lossy: case, accents, spacing around punctuation
   * and CJK are not restored, and [CLS]/[SEP]/[PAD] appear as themselves.
   */
  decode(ids: readonly number[]): string {
    const pieces = ids.map((id) => {
      const entry = Number.isInteger(id) ? this.entries[id] : undefined;
      if (entry === undefined)
        throw new InputError(`token id ${id} is not in the vocabulary (0..${this.vocabSize - 1})`);
      return entry;
    });
    return pieces.join(' ').replaceAll(` ${CONTINUATION}`, '').trim();
  }

  /**
   * cn_clip.clip.tokenize: one row per text, [CLS] + the first contextLength-2 ids + [SEP], then
   * zeros (the reference pads with 0 whatever the vocab says). Too-long texts are always truncated.
   */
  tokenize(texts: string | readonly string[], options: TextTokenizeOptions = {}): Tensor<Int32Array> {
    const { contextLength = this.defaultContextLength } = options;
    if (!Number.isInteger(contextLength) || contextLength < 2) {
      throw new InputError(
        `contextLength must be an integer of at least 2 (room for [CLS] and [SEP]), got ${contextLength}`,
      );
    }
    const list = typeof texts === 'string' ? [texts] : texts;
    const data = new Int32Array(list.length * contextLength);
    list.forEach((text, i) => {
      const ids = this.encode(text).slice(0, contextLength - 2);
      data.set([this.classifierToken, ...ids, this.separatorToken], i * contextLength);
    });
    return { data, shape: [list.length, contextLength] };
  }

  /**
   * WordpieceTokenizer on one word: greedy longest-match-first from the left. If some position has
   * no matching entry, the whole word is one [UNK] (pieces found so far are dropped).
   */
  private wordPiecesOf(word: string): string[] {
    const chars = Array.from(word); // code points, as Python's list(str)
    if (chars.length > MAX_WORD_CODE_POINTS) return [UNKNOWN];
    const pieces: string[] = [];
    for (let start = 0; start < chars.length; ) {
      let end = Math.min(chars.length, start + this.longestEntry);
      let piece: string | undefined;
      for (; end > start; end--) {
        const candidate = (start > 0 ? CONTINUATION : '') + chars.slice(start, end).join('');
        if (this.ids.has(candidate)) {
          piece = candidate;
          break;
        }
      }
      if (piece === undefined) return [UNKNOWN];
      pieces.push(piece);
      start = end;
    }
    return pieces;
  }
}
