// BERT's BasicTokenizer as Chinese-CLIP runs it (cn_clip/clip/bert_tokenizer.py, do_lower_case=True):
// clean, space out CJK ideographs, split on whitespace, lower-case and strip accents, split off
// punctuation. Hand-written because ids must match the reference exactly, and the reference's
// character classes are Python 3.11's unicodedata (Unicode 14.0), not this engine's newer Unicode.
import { NEWER_THAN_UNICODE_14 } from './ftfy/unicode14.js';
import { pyLower, pySplit } from './unicode.js';

// Each class below (a global regex matching one code point) is "Node's property minus what Unicode 14 did not have
// yet": to Python those
// characters are unassigned (Cn), so they are never removed, spaces, marks or punctuation.
// Checked against Python 3.11's unicodedata over all code points (see test/wordpiece-basic).
const NOT_IN_14 = `[${NEWER_THAN_UNICODE_14}]`;

/** _clean_text drops NUL, U+FFFD and every Cc/Cf character except tab, newline and carriage return. */
export const REMOVED_CHARS = new RegExp(`[[\\p{Cc}\\p{Cf}\\uFFFD]--[\\t\\n\\r]--${NOT_IN_14}]`, 'gv');

/** _is_whitespace: space, tab, newline, carriage return and category Zs become a plain space. */
export const SPACE_CHARS = new RegExp(`[[ \\t\\n\\r\\p{Zs}]--${NOT_IN_14}]`, 'gv');

/**
 * _is_chinese_char: the CJK Unified Ideographs block, extensions A–E and the compatibility
 * ideographs, exactly the reference's ranges (kana, hangul, CJK punctuation, extensions F+ are not).
 */
export const CJK_IDEOGRAPHS = new RegExp(
  String.raw`[\u{4E00}-\u{9FFF}\u{3400}-\u{4DBF}\u{20000}-\u{2A6DF}\u{2A700}-\u{2B73F}\u{2B740}-\u{2B81F}` +
    String.raw`\u{2B820}-\u{2CEAF}\u{F900}-\u{FAFF}\u{2F800}-\u{2FA1F}]`,
  'gu',
);

/** Category Mn, dropped after NFD. U+1171E (Ahom medial ra) was Mn in Unicode 14, Mc since. */
export const NONSPACING_MARKS = new RegExp(`[[\\p{Mn}\\u{1171E}]--${NOT_IN_14}]`, 'gv');

/** _is_punctuation: the ASCII non-alphanumeric symbols (so $+<=>^`|~ count) or category P*; S* do not. */
export const PUNCTUATION_CHARS = new RegExp(
  `[[\\x21-\\x2F\\x3A-\\x40\\x5B-\\x60\\x7B-\\x7E\\p{P}]--${NOT_IN_14}]`,
  'gv',
);

const NOT_IN_14_SPLIT = new RegExp(`(${NOT_IN_14})`, 'v');

/**
 * NFD as Unicode 14 defines it: characters newer than that have no decomposition and canonical
 * class 0 for Python, so NFD runs only on the pieces between them. (Assigned characters' NFD
 * never changes between versions: Unicode's normalization stability.)
 */
export function nfdUnicode14(text: string): string {
  const pieces = text.split(NOT_IN_14_SPLIT);
  return pieces.length === 1
    ? text.normalize('NFD')
    : pieces.map((piece, i) => (i % 2 === 1 ? piece : piece.normalize('NFD'))).join('');
}

/** _clean_text: remove control/format characters, turn whitespace into spaces. */
export function cleanForBert(text: string): string {
  return text.replace(REMOVED_CHARS, '').replace(SPACE_CHARS, ' ');
}

/** _run_strip_accents: NFD, then drop every nonspacing mark (é → e, が → か; U+FE0F goes too). */
export function stripAccents(word: string): string {
  return nfdUnicode14(word).replace(NONSPACING_MARKS, '');
}

/**
 * BasicTokenizer.tokenize(text) with do_lower_case: the words WordPiece then splits further.
 * Each step works on code points, like the reference's Python str.
 */
export function basicTokenize(text: string): string[] {
  const spaced = cleanForBert(text).replace(CJK_IDEOGRAPHS, ' $& ');
  const words = pySplit(spaced).map((word) => stripAccents(pyLower(word)).replace(PUNCTUATION_CHARS, ' $& '));
  return pySplit(words.join(' '));
}
