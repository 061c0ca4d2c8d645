// Byte-level BPE, as clip/simple_tokenizer.py: every UTF-8 byte is a printable character
// (bytes_to_unicode), and merges are applied lowest rank first until none applies.

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

/** Key of a merge pair in the rank table; ' ' never occurs inside a symbol. */
function pairKey(first: string, second: string): string {
  return `${first} ${second}`;
}

/** Merge rank table + SimpleTokenizer.bpe(). */
export class BytePairEncoder {
  private readonly ranks = new Map<string, number>();

  constructor(merges: readonly (readonly [string, string])[]) {
    // dict(zip(merges, range(len(merges)))): a repeated pair keeps its last rank.
    merges.forEach(([first, second], rank) => this.ranks.set(pairKey(first, second), rank));
  }

  /**
   * SimpleTokenizer.bpe(token) split on ' ': the vocab strings of one byte-encoded piece.
   * The last symbol carries '</w>'; a one-symbol piece is returned as is with '</w>'.
   */
  bpe(token: string): string[] {
    // Byte-encoded pieces hold only BMP characters, so string indices are characters.
    let word: string[] = token.split('');
    word[word.length - 1] += END_OF_WORD;
    while (word.length > 1) {
      // min(pairs, key=rank): pairs not in the table rank +inf; ranks are unique, so no ties.
      let best = Infinity;
      let first = '';
      let second = '';
      for (let i = 0; i < word.length - 1; i++) {
        const rank = this.ranks.get(pairKey(word[i]!, word[i + 1]!));
        if (rank !== undefined && rank < best) [best, first, second] = [rank, word[i]!, word[i + 1]!];
      }
      if (best === Infinity) break;
      // Merge every occurrence of (first, second), left to right, without overlaps.
      const merged: string[] = [];
      for (let i = 0; i < word.length; i++) {
        if (word[i] === first && i < word.length - 1 && word[i + 1] === second) {
          merged.push(first + second);
          i++;
        } else {
          merged.push(word[i]!);
        }
      }
      word = merged;
    }
    return word;
  }
}
