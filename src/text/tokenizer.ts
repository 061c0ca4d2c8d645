// CLIP's tokenizer: clip.simple_tokenizer.SimpleTokenizer (encode, decode) and clip.tokenize.
import { at } from '../checked.js';
import { readFileSync } from 'node:fs';
import { InputError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { BytePairEncoder, END_OF_WORD, bytesToUnicode } from './bpe.js';
import { textPieces } from './clean.js';
import {
  type BpeVocab,
  END_OF_TEXT,
  OPENAI_SPECIAL_TOKENS,
  START_OF_TEXT,
  type SpecialTokens,
  readMergesFile,
  vocabFromHuggingFace,
  vocabFromMerges,
} from './vocab.js';

export interface TokenizeOptions {
  /** Row length, SOT and EOT included (the reference's context_length). Default 77. */
  contextLength?: number;
  /** Cut texts that are too long (keeping SOT … and EOT last) instead of throwing. Default false. */
  truncate?: boolean;
}

/** Pieces remembered with their ids; the reference's cache is unbounded, ours is emptied when full. */
const CACHE_LIMIT = 100_000;

const SYMBOL_BYTES = new Map([...bytesToUnicode()].map(([byte, symbol]) => [symbol, byte]));
const UTF8_REPLACING = new TextDecoder('utf-8'); // errors='replace': one U+FFFD per maximal bad subpart

export class Tokenizer {
  /** CLIP's text context (the model's positional embedding length). */
  readonly defaultContextLength = 77;
  readonly sotToken: number;
  readonly eotToken: number;
  private readonly encoder: ReadonlyMap<string, number>;
  private readonly decoder = new Map<number, string>();
  private readonly merger: BytePairEncoder;
  private readonly cache = new Map<string, readonly number[]>();

  /**
   * `specialTokens`: how text writes the start and end tokens (OpenAI's names by default; open_clip's
   * SimpleTokenizer has its own). The vocabulary holds their ids under OpenAI's names either way.
   */
  constructor(
    vocab: BpeVocab,
    readonly specialTokens: SpecialTokens = OPENAI_SPECIAL_TOKENS,
  ) {
    this.encoder = vocab.encoder;
    for (const [symbol, id] of vocab.encoder) this.decoder.set(id, symbol);
    this.merger = new BytePairEncoder(vocab.merges, vocab.encoder);
    this.sotToken = this.idOf(START_OF_TEXT);
    this.eotToken = this.idOf(END_OF_TEXT);
    this.decoder.set(this.sotToken, specialTokens.start);
    this.decoder.set(this.eotToken, specialTokens.end);
    this.seedCache();
  }

  /** From the text of a CLIP merges file (first line a header). */
  static fromMergesText(text: string, specialTokens?: SpecialTokens): Tokenizer {
    return new Tokenizer(vocabFromMerges(text), specialTokens);
  }

  /** From a CLIP merges file, gzip'd (bpe_simple_vocab_16e6.txt.gz) or plain. */
  static fromMergesFile(path: string, specialTokens?: SpecialTokens): Tokenizer {
    return new Tokenizer(vocabFromMerges(readMergesFile(path), path), specialTokens);
  }

  /** From a Hugging Face CLIPTokenizer's vocab.json and merges.txt. */
  static fromHuggingFaceFiles(vocabJsonPath: string, mergesTxtPath: string, specialTokens?: SpecialTokens): Tokenizer {
    const vocab = vocabFromHuggingFace(
      readFileSync(vocabJsonPath, 'utf8'),
      readFileSync(mergesTxtPath, 'utf8'),
      vocabJsonPath,
    );
    return new Tokenizer(vocab, specialTokens);
  }

  /** Pieces whose ids are remembered (the per-word cache). */
  get cachedPieces(): number {
    return this.cache.size;
  }

  /** Number of ids (49408 for CLIP). */
  get vocabSize(): number {
    return this.decoder.size;
  }

  /** SimpleTokenizer.encode: BPE ids of the cleaned text, without SOT/EOT. */
  encode(text: string): number[] {
    const ids: number[] = [];
    this.encodeInto(text, ids, 0, Infinity, false);
    return ids;
  }

  /** SimpleTokenizer.decode: vocab strings joined, bytes back to UTF-8 (bad bytes → U+FFFD), '</w>' → ' '. */
  decode(ids: readonly number[]): string {
    const symbols = ids
      .map((id) => {
        const symbol = this.decoder.get(id);
        if (symbol === undefined)
          throw new InputError(`token id ${id} is not in the vocabulary (0..${this.decoder.size - 1})`);
        return symbol;
      })
      .join('');
    const bytes = Uint8Array.from(symbols, (ch) => {
      const byte = SYMBOL_BYTES.get(ch);
      if (byte === undefined)
        throw new InputError(`vocabulary symbol character ${JSON.stringify(ch)} is not a byte symbol`);
      return byte;
    });
    return UTF8_REPLACING.decode(bytes).replaceAll(END_OF_WORD, ' ');
  }

  /**
   * clip.tokenize: one row per text, [SOT, ids…, EOT] then zeros. A row longer than contextLength
   * throws unless `truncate`, which keeps the first contextLength ids and makes the last one EOT.
   */
  tokenize(texts: string | readonly string[], options: TokenizeOptions = {}): Tensor<Int32Array> {
    const { contextLength = 77, truncate = false } = options;
    if (!Number.isInteger(contextLength) || contextLength < 2) {
      throw new InputError(
        `contextLength must be an integer of at least 2 (room for SOT and EOT), got ${contextLength}`,
      );
    }
    const list = typeof texts === 'string' ? [texts] : texts;
    const data = new Int32Array(list.length * contextLength);
    for (let i = 0; i < list.length; i++) {
      // [SOT, ids…, EOT] written in place; ids go up to the row's last cell, which EOT takes
      // when the row is full (that is also what truncation gives: the first ids, EOT last).
      const start = i * contextLength;
      data[start] = this.sotToken;
      const count = this.encodeInto(at(list, i), data, start + 1, start + contextLength - 1, truncate);
      if (count + 2 > contextLength && !truncate) {
        const text = at(list, i).length > 60 ? `${at(list, i).slice(0, 57)}...` : at(list, i);
        throw new InputError(
          `texts[${i}] ${JSON.stringify(text)} is too long: ${count + 2} tokens (SOT and EOT included) for context ` +
            `length ${contextLength}; shorten it or truncate it (--truncate on the command line, truncate: true in ` +
            `the API)`,
        );
      }
      data[start + Math.min(count + 1, contextLength - 1)] = this.eotToken;
    }
    return { data, shape: [list.length, contextLength] };
  }

  private idOf(symbol: string): number {
    const id = this.encoder.get(symbol);
    if (id === undefined) throw new InputError(`the vocabulary has no entry ${JSON.stringify(symbol)}`);
    return id;
  }

  /**
   * Writes the ids of `text` to out[pos], out[pos + 1], … before out[end], and returns how many
   * ids the text has. With `stopWhenFull` it stops at the first piece that reaches `end`, and
   * the count is then that of the pieces read so far.
   */
  private encodeInto(
    text: string,
    out: Int32Array | number[],
    pos: number,
    end: number,
    stopWhenFull: boolean,
  ): number {
    let count = 0;
    for (const piece of textPieces(text, this.specialTokens)) {
      const ids = this.pieceIds(piece);
      for (const id of ids) {
        if (pos >= end) break;
        out[pos++] = id;
      }
      count += ids.length;
      if (stopWhenFull && pos >= end) break;
    }
    return count;
  }

  /** Ids of one piece of the split text (byte-level BPE), remembered. */
  private pieceIds(piece: string): readonly number[] {
    let ids = this.cache.get(piece);
    if (ids === undefined) {
      ids = this.merger.encode(piece);
      if (this.cache.size >= CACHE_LIMIT) this.clearCache();
      this.cache.set(piece, ids);
    }
    return ids;
  }

  private clearCache(): void {
    this.cache.clear();
    this.seedCache();
  }

  /** The reference pre-seeds its cache so typed special tokens are never split. */
  private seedCache(): void {
    this.cache.set(this.specialTokens.start, [this.sotToken]);
    this.cache.set(this.specialTokens.end, [this.eotToken]);
  }
}
