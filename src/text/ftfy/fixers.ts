// ftfy's character-level fixers, each a small translation of the text.
// Each fixer's trigger characters are a class body (the inside of [...]) so
// that `FIXER_TRIGGERS` can tell in one pass whether any of them would act.

import { NEWER_THAN_UNICODE_14 } from './unicode14.js';

// Terminal colour and cursor codes, like "\x1b[36;44m". Python's \d is any
// Nd digit of its Unicode 14.
const ANSI_ESCAPE_RE = new RegExp(`\x1b\\[(?:(?![${NEWER_THAN_UNICODE_14}])\\p{Nd}|;)*[a-zA-Z]`, 'gu');

export function removeTerminalEscapes(text: string): string {
  return text.includes('\x1b') ? text.replace(ANSI_ESCAPE_RE, '') : text;
}

// Latin typographic ligatures and the digraphs that exist only for legacy
// encodings. Ligatures such as æ that are used on purpose are left alone.
const LIGATURES: Record<string, string> = {
  Ĳ: 'IJ',
  ĳ: 'ij', // Dutch
  ŉ: 'ʼn', // Afrikaans, a digraph made to avoid an auto-curled quote
  Ǳ: 'DZ',
  ǲ: 'Dz',
  ǳ: 'dz', // Serbian/Croatian, for Cyrillic conversion
  Ǆ: 'DŽ',
  ǅ: 'Dž',
  ǆ: 'dž',
  Ǉ: 'LJ',
  ǈ: 'Lj',
  ǉ: 'lj',
  Ǌ: 'NJ',
  ǋ: 'Nj',
  ǌ: 'nj',
  ﬀ: 'ff',
  ﬁ: 'fi',
  ﬂ: 'fl',
  ﬃ: 'ffi',
  ﬄ: 'ffl',
  ﬅ: 'ſt',
  ﬆ: 'st',
};
const LIGATURE_CHARS = Object.keys(LIGATURES).join('');
const LIGATURE_RE = new RegExp(`[${LIGATURE_CHARS}]`, 'g');

export function fixLatinLigatures(text: string): string {
  return text.replace(LIGATURE_RE, (c) => LIGATURES[c] ?? c);
}

// Half-width and full-width forms (U+FF01-U+FFEF) become their NFKC form,
// and the ideographic space U+3000 a plain space. NFKC of this block has not
// changed since Unicode 3.2, so the engine's ICU agrees with Python's tables.
const WIDTH_CHARS = '\u3000\uff01-\uffef';
const WIDTH_RE = new RegExp(`[${WIDTH_CHARS}]`, 'g');

export function fixCharacterWidth(text: string): string {
  return text.replace(WIDTH_RE, (c) => (c === '\u3000' ? ' ' : c.normalize('NFKC')));
}

const DOUBLE_QUOTE_CHARS = '\u201c-\u201f';
const SINGLE_QUOTE_CHARS = '\u02bc\u2018-\u201b';
const DOUBLE_QUOTE_RE = new RegExp(`[${DOUBLE_QUOTE_CHARS}]`, 'g');
const SINGLE_QUOTE_RE = new RegExp(`[${SINGLE_QUOTE_CHARS}]`, 'g');

export function uncurlQuotes(text: string): string {
  return text.replace(DOUBLE_QUOTE_RE, '"').replace(SINGLE_QUOTE_RE, "'");
}

const LINE_BREAK_CHARS = '\r\u2028\u2029\u0085';
const LINE_BREAK_RE = /\r\n?|[\u2028\u2029\u0085]/g;

export function fixLineBreaks(text: string): string {
  return text.replace(LINE_BREAK_RE, '\n');
}

// A surrogate that is not half of a pair (with the 'u' flag, pairs are one code point).
const LONE_SURROGATE_RE = /[\ud800-\udfff]/gu;
// Any surrogate: a quick test without the 'u' flag, which makes V8 search several times slower.
const SURROGATE_RE = /[\ud800-\udfff]/;

export function hasLoneSurrogate(text: string): boolean {
  LONE_SURROGATE_RE.lastIndex = 0;
  return SURROGATE_RE.test(text) && LONE_SURROGATE_RE.test(text);
}

export function fixSurrogates(text: string): string {
  return hasLoneSurrogate(text) ? text.replace(LONE_SURROGATE_RE, '\ufffd') : text;
}

// C0 controls other than tab, LF, FF and CR; DEL; deprecated format
// characters; the byte-order mark; interlinear annotation characters.
const CONTROL_CHARS = '\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc';
const CONTROL_CHAR_RE = new RegExp(`[${CONTROL_CHARS}]`, 'g');

export function removeControlChars(text: string): string {
  return text.replace(CONTROL_CHAR_RE, '');
}

/**
 * The characters (a class body) where a fixer in this file other than
 * fixSurrogates could change the text. (ESC, which starts terminal escapes,
 * is one of the control characters.)
 */
export const FIXER_TRIGGERS = [
  LIGATURE_CHARS,
  WIDTH_CHARS,
  DOUBLE_QUOTE_CHARS,
  SINGLE_QUOTE_CHARS,
  LINE_BREAK_CHARS,
  CONTROL_CHARS,
].join('');
