// The reference tokenizer's character semantics, pinned to its versions rather than this engine's.
// The reference runs Python 3.11 (str.lower/strip/split: Unicode 14) and the `regex` module
// 2022.10.31 (\s, \p{L}, \p{N}: Unicode 15), while Node's ICU knows newer Unicode (17 in Node 20.20).
// Characters added since are corrected here so token ids don't depend on the Node version.
// Every table below was derived by running all 1,114,112 code points through the reference's
// Python 3.11.2 + regex 2022.10.31 and through Node 20.20 (ICU 78, Unicode 17); the test
// `tokenizer-unicode` checks that this engine still agrees with the counts that came out.

import { at } from '../checked.js';

/** `regex`'s `\s`: the White_Space property (U+0085 yes; U+180E, U+200B, U+FEFF no). JS's `\s` differs. */
export const PY_REGEX_WHITESPACE = String.raw`\t\n\v\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000`;

/** Python's str.isspace() (what str.strip() and str.split() remove): `\s` plus U+001C..U+001F. */
export const PY_ISSPACE = PY_REGEX_WHITESPACE + String.raw`\u001C-\u001F`;

/** Letters that Unicode 15.1–17.0 added: \p{L} here, unassigned for the reference's regex. */
const LETTERS_AFTER_UNICODE_15 =
  String.raw`\u{88F}\u{C5C}\u{CDC}\u{1C89}-\u{1C8A}\u{A7CB}-\u{A7CF}\u{A7D2}\u{A7D4}\u{A7DA}-\u{A7DC}\u{A7F1}` +
  String.raw`\u{105C0}-\u{105F3}\u{10940}-\u{10959}\u{10D4A}-\u{10D65}\u{10D6F}-\u{10D85}\u{10EC2}-\u{10EC7}` +
  String.raw`\u{11380}-\u{11389}\u{1138B}\u{1138E}\u{11390}-\u{113B5}\u{113B7}\u{113D1}\u{113D3}\u{11BC0}-\u{11BE0}` +
  String.raw`\u{11DB0}-\u{11DDB}\u{13460}-\u{143FA}\u{16100}-\u{1611D}\u{16D40}-\u{16D6C}\u{16EA0}-\u{16EB8}` +
  String.raw`\u{16EBB}-\u{16ED3}\u{16FF2}-\u{16FF3}\u{187F8}-\u{187FF}\u{18CFF}\u{18D09}-\u{18D1E}` +
  String.raw`\u{18D80}-\u{18DF2}\u{1E5D0}-\u{1E5ED}\u{1E5F0}\u{1E6C0}-\u{1E6DE}\u{1E6E0}-\u{1E6E2}` +
  String.raw`\u{1E6E4}-\u{1E6E5}\u{1E6E7}-\u{1E6ED}\u{1E6F0}-\u{1E6F4}\u{1E6FE}-\u{1E6FF}\u{2B73A}-\u{2B73F}` +
  String.raw`\u{2CEA2}-\u{2CEAD}\u{2EBF0}-\u{2EE5D}\u{323B0}-\u{33479}`;

/** Numbers that Unicode 16.0–17.0 added. */
const NUMBERS_AFTER_UNICODE_15 =
  String.raw`\u{10D40}-\u{10D49}\u{116D0}-\u{116E3}\u{11BF0}-\u{11BF9}\u{11DE0}-\u{11DE9}\u{16130}-\u{16139}` +
  String.raw`\u{16D70}-\u{16D79}\u{16FF4}-\u{16FF6}\u{1CCF0}-\u{1CCF9}\u{1E5F1}-\u{1E5FA}`;

/** `[\p{L}]` and `[\p{N}]` as the reference's regex module sees them (nested classes for the `v` flag). */
export const PY_LETTER = String.raw`[\p{L}--[${LETTERS_AFTER_UNICODE_15}]]`;
export const PY_NUMBER = String.raw`[\p{N}--[${NUMBERS_AFTER_UNICODE_15}]]`;

/** Code points with case properties here that Python 3.11 (Unicode 14) does not know: it treats them
 * as unassigned (lower() keeps them; neither cased nor case-ignorable for the final-sigma rule). */
const UNASSIGNED_IN_14_BMP =
  String.raw`\u0897\u0ECE\u1ACF-\u1ADD\u1AE0-\u1AEB\u1C89-\u1C8A` +
  String.raw`\uA7CB-\uA7CF\uA7D2\uA7D4\uA7DA-\uA7DC\uA7F1`;
const UNASSIGNED_IN_UNICODE_14 =
  UNASSIGNED_IN_14_BMP +
  String.raw`\u{10D4E}\u{10D50}-\u{10D65}\u{10D69}-\u{10D6D}\u{10D6F}-\u{10D85}\u{10EC5}\u{10EFA}-\u{10EFF}` +
  String.raw`\u{11241}\u{113BB}-\u{113C0}\u{113CE}\u{113D0}\u{113D2}\u{113E1}-\u{113E2}\u{11B60}\u{11B62}-\u{11B64}` +
  String.raw`\u{11B66}\u{11DD9}\u{11F00}-\u{11F01}\u{11F36}-\u{11F3A}\u{11F40}\u{11F42}\u{11F5A}\u{13439}-\u{13440}` +
  String.raw`\u{13447}-\u{13455}\u{1611E}-\u{16129}\u{1612D}-\u{1612F}\u{16D40}-\u{16D42}\u{16D6B}-\u{16D6C}` +
  String.raw`\u{16EA0}-\u{16EB8}\u{16EBB}-\u{16ED3}\u{16FF2}-\u{16FF3}\u{1DF25}-\u{1DF2A}\u{1E030}-\u{1E06D}` +
  String.raw`\u{1E08F}\u{1E4EB}-\u{1E4EF}\u{1E5EE}-\u{1E5EF}\u{1E6E3}\u{1E6E6}\u{1E6EE}-\u{1E6EF}\u{1E6F5}\u{1E6FF}`;
const IS_UNASSIGNED_IN_14 = new RegExp(`^[${UNASSIGNED_IN_UNICODE_14}]$`, 'u');

/** Strings that need the careful path of pyLower: a capital sigma or a code point Python doesn't know. */
const NEEDS_CAREFUL_LOWER = new RegExp(`[\\u03A3${UNASSIGNED_IN_UNICODE_14}]`, 'u');
// The same for BMP characters, or any surrogate: without the 'u' flag, which makes V8 search
// several times slower, it rules out most text first.
const MAYBE_NEEDS_CAREFUL_LOWER = new RegExp(`[\\u03A3${UNASSIGNED_IN_14_BMP}\\uD800-\\uDBFF]`);

const CASED = /^\p{Cased}$/u;
const CASE_IGNORABLE = /^\p{Case_Ignorable}$/u;
// Two older characters whose properties changed after Unicode 14.
const CASED_IN_14 = 'ʕ'; // U+0295: Ll in 14, Lo since
const CASE_IGNORABLE_IN_14 = '\u{1171E}'; // AHOM CONSONANT SIGN MEDIAL RA: Mn in 14, Mc since

export type CaseClass = 'cased' | 'ignorable' | 'other';

/** How Python 3.11's final-sigma rule sees a character. */
export function caseClass(ch: string): CaseClass {
  if (ch === CASED_IN_14) return 'cased';
  if (ch === CASE_IGNORABLE_IN_14) return 'ignorable';
  if (IS_UNASSIGNED_IN_14.test(ch)) return 'other';
  // Python checks case-ignorable first when skipping, so a char that is both counts as ignorable.
  if (CASE_IGNORABLE.test(ch)) return 'ignorable';
  return CASED.test(ch) ? 'cased' : 'other';
}

/** Python's rule for U+03A3 at index i: final (ς) when preceded by a cased letter and not followed
 * by one, skipping case-ignorable characters both ways (CPython's handle_capital_sigma). */
function sigmaAt(chars: readonly string[], i: number): string {
  let j = i - 1;
  while (j >= 0 && caseClass(at(chars, j)) === 'ignorable') j--;
  if (j < 0 || caseClass(at(chars, j)) !== 'cased') return 'σ';
  let k = i + 1;
  while (k < chars.length && caseClass(at(chars, k)) === 'ignorable') k++;
  return k < chars.length && caseClass(at(chars, k)) === 'cased' ? 'σ' : 'ς';
}

/** Python 3.11's str.lower(): full Unicode 14 lower-casing (İ → i̇, final sigma, ẞ → ß). */
export function pyLower(text: string): string {
  // Without Σ the mapping is context-free, and the engine's tables agree with Unicode 14 on
  // every code point outside UNASSIGNED_IN_UNICODE_14.
  if (!MAYBE_NEEDS_CAREFUL_LOWER.test(text) || !NEEDS_CAREFUL_LOWER.test(text)) return text.toLowerCase();
  const chars = Array.from(text);
  let out = '';
  for (const [i, ch] of chars.entries()) {
    if (ch === '\u03A3') out += sigmaAt(chars, i);
    else if (IS_UNASSIGNED_IN_14.test(ch)) out += ch;
    else out += ch.toLowerCase();
  }
  return out;
}

const SPACE_CHAR = new RegExp(`[${PY_ISSPACE}]`);

/** Python's str.strip() with no argument (every isspace() character is in the BMP). */
export function pyStrip(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && SPACE_CHAR.test(at(text, start))) start++;
  while (end > start && SPACE_CHAR.test(at(text, end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

const SPACE_RUN = new RegExp(`[${PY_ISSPACE}]+`, 'u');

/** Python's str.split() with no argument: runs of isspace() characters separate, ends ignored. */
export function pySplit(text: string): string[] {
  const stripped = pyStrip(text);
  return stripped === '' ? [] : stripped.split(SPACE_RUN);
}
