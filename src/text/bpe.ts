// Byte-level BPE, as clip/simple_tokenizer.py: every UTF-8 byte is a printable character
// (bytes_to_unicode), and merges are applied lowest rank first until none applies.
import { at, entry } from '../checked.js';
import { InputError } from '../errors.js';

/**
 * The reference's bytes_to_unicode(): printable Latin-1 bytes map to themselves, the other 68
 * bytes to U+0100 onwards in byte order, so no symbol is whitespace or a control character.
 * Insertion order is the reference dict's (printable bytes first): it fixes the ids 0..255.
 */
export function bytesToUnicode(): Map<number, string> {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const table = new Map<number, string>();
  for (let b = 0; b < 256; b++) if (printable(b)) table.set(b, String.fromCharCode(b));
  let next = 0;
  for (let b = 0; b < 256; b++) if (!printable(b)) table.set(b, String.fromCharCode(256 + next++));
  return table;
}

export const END_OF_WORD = '</w>';

/** Symbol numbers 0..255 are the byte symbols, 256..511 the same with '</w>'; merged symbols follow. */
const WORD_END_SYMBOLS = 256;

const UTF8 = new TextEncoder();

/**
 * Merge rank table + SimpleTokenizer.bpe(), on symbols numbered at construction instead of
 * strings: a rank lookup is one Map get on a number, and a merge writes one number.
 */
export class BytePairEncoder {
  /** Pair key (first * stride + second) → merge rank. */
  private readonly ranks = new Map<number, number>();
  /** More than the number of symbols: 512 to start with, at most 3 more per merge. */
  private readonly stride: number;
  /** Rank → symbol number of the merged pair. */
  private readonly mergedSymbol: Int32Array;
  /** Symbol number → vocabulary id, -1 for symbols the vocabulary lacks. */
  private readonly vocabId: number[] = [];
  /** Symbol number → its string, for the message when one isn't in the vocabulary. */
  private readonly symbolText: string[] = [];
  /** Reused scratch space: a piece's UTF-8 bytes, then its symbols as they merge. */
  private bytes = new Uint8Array(64);
  private word = new Int32Array(64);

  constructor(merges: readonly (readonly [string, string])[], encoder: ReadonlyMap<string, number>) {
    const numbers = new Map<string, number>();
    const numberOf = (symbol: string): number => {
      let n = numbers.get(symbol);
      if (n === undefined) {
        n = this.symbolText.length;
        numbers.set(symbol, n);
        this.symbolText.push(symbol);
        this.vocabId.push(encoder.get(symbol) ?? -1);
      }
      return n;
    };
    const byteSymbols = bytesToUnicode();
    for (let b = 0; b < 256; b++) numberOf(entry(byteSymbols, b));
    for (let b = 0; b < 256; b++) numberOf(entry(byteSymbols, b) + END_OF_WORD);
    this.stride = 2 * WORD_END_SYMBOLS + 3 * merges.length;
    this.mergedSymbol = new Int32Array(merges.length);
    // dict(zip(merges, range(len(merges)))): a repeated pair keeps its last rank.
    merges.forEach(([first, second], rank) => {
      this.ranks.set(numberOf(first) * this.stride + numberOf(second), rank);
      this.mergedSymbol[rank] = numberOf(first + second);
    });
  }

  /**
   * SimpleTokenizer.bpe(piece) split on ' ', as vocabulary ids: the piece's UTF-8 bytes as
   * symbols, the last one carrying '</w>', merged while any adjacent pair has a rank.
   */
  encode(piece: string): number[] {
    // `word` holds `length` symbols; reads below `length` use `?? 0` (hot loop: see checked.ts).
    if (this.bytes.length < piece.length * 3) {
      this.bytes = new Uint8Array(piece.length * 3);
      this.word = new Int32Array(piece.length * 3);
    }
    const { bytes, word, ranks, stride, mergedSymbol } = this;
    let length = UTF8.encodeInto(piece, bytes).written;
    word.set(bytes.subarray(0, length));
    if (length > 0) word[length - 1] = (word[length - 1] ?? 0) + WORD_END_SYMBOLS;
    while (length > 1) {
      // min(pairs, key=rank): pairs not in the table rank +inf; ranks are unique, so no ties.
      let best = Infinity;
      let first = -1;
      let second = -1;
      for (let i = 0; i < length - 1; i++) {
        const rank = ranks.get((word[i] ?? 0) * stride + (word[i + 1] ?? 0));
        if (rank !== undefined && rank < best) {
          best = rank;
          first = word[i] ?? 0;
          second = word[i + 1] ?? 0;
        }
      }
      if (best === Infinity) break;
      // Merge every occurrence of (first, second), left to right, without overlaps, in place.
      const merged = at(mergedSymbol, best);
      let kept = 0;
      for (let i = 0; i < length; i++) {
        if (word[i] === first && i < length - 1 && word[i + 1] === second) {
          word[kept++] = merged;
          i++;
        } else {
          word[kept++] = word[i] ?? 0;
        }
      }
      length = kept;
    }
    return Array.from(word.subarray(0, length), (symbol) => {
      const id = this.vocabId[symbol] ?? -1;
      if (id < 0) throw new InputError(`the vocabulary has no entry ${JSON.stringify(this.symbolText[symbol])}`);
      return id;
    });
  }
}
