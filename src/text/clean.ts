// Text cleaning before BPE, step for step as clip/simple_tokenizer.py: basic_clean, whitespace_clean,
// lower(), then the split regex that cuts the text into the pieces BPE encodes one by one.
import { fixText } from './ftfy/index.js';
import { htmlUnescape } from './html.js';
import { PY_LETTER, PY_NUMBER, PY_REGEX_WHITESPACE, pyLower, pyStrip } from './unicode.js';

/** `basic_clean`: ftfy.fix_text, html.unescape twice, strip(). */
export function basicClean(text: string): string {
  return pyStrip(htmlUnescape(htmlUnescape(fixText(text))));
}

const WHITESPACE_RUN = new RegExp(`[${PY_REGEX_WHITESPACE}]+`, 'gu');

/** `whitespace_clean`: regex `\s+` → one space, strip(). */
export function whitespaceClean(text: string): string {
  return pyStrip(text.replace(WHITESPACE_RUN, ' '));
}

/** What `SimpleTokenizer.encode` splits: `whitespace_clean(basic_clean(text)).lower()`. */
export function cleanText(text: string): string {
  return pyLower(whitespaceClean(basicClean(text)));
}

/**
 * The reference's `pat`, compiled there with regex.IGNORECASE and applied to lower-cased text:
 *   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
 * Written without JS's `i` flag, whose class semantics differ, and with what IGNORECASE means on
 * lower-cased text spelled out: 'ſ' (U+017F) case-folds to 's', so `'ſ` is a contraction and
 * `<|ſtartoftext|>` a special token; U+0345 (which folds to the letter ι) is in neither
 * `[\p{L}]` nor its complement there, so it is dropped like whitespace.
 */
const PIECE = new RegExp(
  String.raw`<\|[sſ]tartoftext\|>|<\|endoftext\|>|'[sſ]|'t|'re|'ve|'m|'ll|'d|${PY_LETTER}+|${PY_NUMBER}`
    + String.raw`|[^${PY_REGEX_WHITESPACE}\u0345${PY_LETTER}${PY_NUMBER}]+`,
  'gv',
);

/** PIECE restricted to ASCII text, where its classes are plain ranges; 2-3x faster on captions. */
const ASCII_PIECE = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[a-zA-Z]+|[0-9]|[^\t\n\v\f\r a-zA-Z0-9]+/g;
const ASCII_ONLY = /^[\0-\x7f]*$/;

/** `regex.findall(pat, text)` on cleaned, lower-cased text: the pieces that BPE encodes. */
export function splitPieces(text: string): string[] {
  return text.match(ASCII_ONLY.test(text) ? ASCII_PIECE : PIECE) ?? [];
}
