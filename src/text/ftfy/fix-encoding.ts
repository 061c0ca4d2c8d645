// Mojibake repair: ftfy's fix_encoding with its default options. Text that
// looks bad is re-encoded in each single-byte encoding it could have been
// decoded from and decoded again as UTF-8; failing that, UTF-8 mojibake
// embedded in otherwise good text is fixed piece by piece, and C1 control
// characters are read as Windows-1252.

import { isBad } from './badness.js';
import { LATIN_1, MOJIBAKE_ENCODINGS, SLOPPY_WINDOWS_1252, type CodePage } from './codepages.js';
import { decodeUtf8, decodeUtf8Variants } from './utf8.js';

// --- byte-level repairs (on byte strings, before decoding as UTF-8) ---

// UTF-8 sequences that would be valid if a Windows-1252 program had not turned
// their 0xA0 byte into a space, limited to lead bytes that make likely text.
const ALTERED_UTF8_RE = new RegExp(
  [
    '[\\xc2\\xc3\\xc5\\xce\\xd0\\xd9] ',
    '[\\xe2\\xe3] [\\x80-\\x84\\x86-\\x9f\\xa1-\\xbf]',
    '[\\xe0-\\xe3][\\x80-\\x84\\x86-\\x9f\\xa1-\\xbf] ',
    '\\xf0 [\\x80-\\xbf][\\x80-\\xbf]',
    '\\xf0[\\x80-\\xbf] [\\x80-\\xbf]',
    '\\xf0[\\x80-\\xbf][\\x80-\\xbf] ',
  ].join('|'),
  'g',
);
// "à " is a common word, so C3 + space becomes "à" unless a Portuguese word follows.
const A_GRAVE_WORD_RE = /\xc3 (?! |quele|quela|quilo|s )/g;

/** Put back 0xA0 bytes that became spaces (ftfy's restore_byte_a0). */
function restoreByteA0(bytes: string): string {
  return bytes.replace(A_GRAVE_WORD_RE, '\xc3\xa0 ').replace(ALTERED_UTF8_RE, (m) => m.replaceAll(' ', '\xa0'));
}

// UTF-8 (and CESU-8) sequences that lost continuation bytes. Byte 0x1A is what
// the sloppy codecs encode U+FFFD as; '?' may stand in for it once.
const LOSSY_UTF8_RE = new RegExp(
  [
    '[\\xc2-\\xdf]\\x1a',
    '[\\xc2-\\xc3]\\?',
    '\\xed[\\xa0-\\xaf][\\x1a?]\\xed[\\xb0-\\xbf][\\x1a?\\x80-\\xbf]',
    '\\xed[\\xa0-\\xaf][\\x1a?\\x80-\\xbf]\\xed[\\xb0-\\xbf][\\x1a?]',
    '[\\xe0-\\xef][\\x1a?][\\x1a\\x80-\\xbf]',
    '[\\xe0-\\xef][\\x1a\\x80-\\xbf][\\x1a?]',
    '[\\xf0-\\xf4][\\x1a?][\\x1a\\x80-\\xbf][\\x1a\\x80-\\xbf]',
    '[\\xf0-\\xf4][\\x1a\\x80-\\xbf][\\x1a?][\\x1a\\x80-\\xbf]',
    '[\\xf0-\\xf4][\\x1a\\x80-\\xbf][\\x1a\\x80-\\xbf][\\x1a?]',
    '\\x1a',
  ].join('|'),
  'g',
);
const UTF8_REPLACEMENT_CHARACTER = '\xef\xbf\xbd';

/** Decode truncated UTF-8 sequences as U+FFFD (ftfy's replace_lossy_sequences). */
function replaceLossySequences(bytes: string): string {
  return bytes.replace(LOSSY_UTF8_RE, UTF8_REPLACEMENT_CHARACTER);
}

/** Re-read `text` as UTF-8 that was wrongly decoded with `encoding`, or null. */
function redecode(text: string, encoding: CodePage): string | null {
  let bytes = encoding.encode(text);
  if (encoding.name !== 'macroman' && bytes.search(ALTERED_UTF8_RE) !== -1) bytes = restoreByteA0(bytes);
  if (encoding.sloppy) bytes = replaceLossySequences(bytes);
  return /[\xc0\xed]/.test(bytes) ? decodeUtf8Variants(bytes) : decodeUtf8(bytes);
}

// --- character-level repairs ---

const C1_CONTROL_RE = /[\x80-\x9f]/g;

/** Read C1 control characters as the Windows-1252 characters of those bytes. */
export function fixC1Controls(text: string): string {
  return text.replace(C1_CONTROL_RE, (c) => SLOPPY_WINDOWS_1252.decodeByte(c.charCodeAt(0)));
}

// Characters that the Latin-1-like encodings decode UTF-8 lead and
// continuation bytes to, for spotting UTF-8 mojibake inside good text.
const UTF8_CLUE_ENCODINGS = MOJIBAKE_ENCODINGS.filter((e) => e === LATIN_1 || e.name.startsWith('sloppy-windows'));

function decodedBytes(bytes: number[]): string {
  const chars = new Set<string>();
  for (const encoding of UTF8_CLUE_ENCODINGS) for (const b of bytes) chars.add(encoding.decodeByte(b));
  return [...chars].join('');
}
const byteRange = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

const FIRST_OF_2 = decodedBytes(byteRange(0xc2, 0xdf));
const FIRST_OF_3 = decodedBytes(byteRange(0xe0, 0xef));
// Lead bytes F1, F2 and F4 only start unassigned code points.
const FIRST_OF_4 = decodedBytes([0xf0, 0xf3]);
// A space may stand for a 0xA0 byte.
const CONTINUATION = decodedBytes(byteRange(0x80, 0xbf)) + ' ';
// Without the characters that often stand for themselves next to mojibake.
const CONTINUATION_STRICT = [...decodedBytes(byteRange(0x80, 0xbf))].filter((c) => !'–—―‘’‚“”„•…'.includes(c)).join('');

const escapeClass = (chars: string) => chars.replace(/[\\\]^-]/g, '\\$&');

// Runs of UTF-8-looking sequences, not preceded by a continuation-like
// character, so a few characters of a large garble are not "fixed" alone.
const UTF8_DETECTOR_RE = new RegExp(
  `(?<![${escapeClass(CONTINUATION_STRICT)}])` +
    `(?:[${escapeClass(FIRST_OF_2)}][${escapeClass(CONTINUATION)}]` +
    `|[${escapeClass(FIRST_OF_3)}][${escapeClass(CONTINUATION)}]{2}` +
    `|[${escapeClass(FIRST_OF_4)}][${escapeClass(CONTINUATION)}]{3})+`,
  'gu',
);

/** Fix UTF-8 mojibake inside text that does not re-decode as a whole. */
function decodeInconsistentUtf8(text: string): string {
  return text.replace(UTF8_DETECTOR_RE, (piece) =>
    piece.length < text.length && isBad(piece) ? fixEncoding(piece) : piece,
  );
}

// --- the whole step ---

// biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range is the point
const NOT_ASCII_RE = /[^\x00-\x7f]/;

/** One round of repair; returns the text unchanged when nothing applies. */
function fixEncodingOnce(text: string): string {
  if (!NOT_ASCII_RE.test(text) || !isBad(text)) return text;

  for (const encoding of MOJIBAKE_ENCODINGS) {
    if (!encoding.canEncode(text)) continue;
    const fixed = redecode(text, encoding);
    if (fixed !== null) return fixed;
  }

  if (text.search(UTF8_DETECTOR_RE) !== -1) {
    const fixed = decodeInconsistentUtf8(text);
    if (fixed !== text) return fixed;
  }

  // ftfy next tries Latin-1 → strict Windows-1252 and then fix_c1_controls;
  // whenever the first succeeds it gives what the second gives, so one does.
  return text.search(C1_CONTROL_RE) !== -1 ? fixC1Controls(text) : text;
}

/** ftfy.fix_encoding(text) with default settings: repeat until stable. */
export function fixEncoding(text: string): string {
  for (;;) {
    const fixed = fixEncodingOnce(text);
    if (fixed === text) return fixed;
    text = fixed;
  }
}
