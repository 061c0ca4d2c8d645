// ftfy's "badness" heuristic: a regex of character juxtapositions that are far
// more likely to be mojibake than intended text (an accented lower-case letter
// followed by a currency sign, 'Ã' followed by a no-break space, ...).
// The character classes are ftfy's MOJIBAKE_CATEGORIES; ranges are written
// "X-Y" inside the strings, exactly as they are spliced into [...] classes.

import { NEWER_THAN_UNICODE_14 } from './unicode14.js';

const CLASSES = {
  /** Appear in many contexts; sequences containing them are not inherently bad. */
  common: '\u00a0\u00ad·´–—―…’',
  /** C1 controls: no use outside mojibake any more. */
  c1: '\u0080-\u009f',
  /** Nearly always mojibake. */
  bad: '¦¤¨¬¯¸ƒˆˇ˘˛˜†‡‰⌐◊\ufffdªº',
  law: '¶§',
  currency: '¢£¥₧€',
  start_punctuation: '¡«¿©΄΅‘‚“„•‹\uf8ff',
  end_punctuation: '®»˝”›™',
  numeric: '²³¹±¼½¾×µ÷⁄∂∆∏∑√∞∩∫≈≠≡≤≥№',
  /** Letters that kaomoji faces use, so they may appear in odd contexts. */
  kaomoji: 'Ò-ÖÙ-Üò-öø-üŐŌŪŲ°',
  upper_accented: 'À-ÑØÜÝĂĀĄĆČĎĐĘĚĒĖĞĢİĪĶĹĽŁĻŃŇŅŒŘŚŞŠŢŤŮŰŸŹŻŽҐ',
  lower_accented: 'ßà-ñăąāćčďđęěēėğģįīķĺľłļœŕśşšťüźżžґﬁﬂ',
  upper_common: 'ÞΑ-ΩΆΈΉΊΌΎΏΪΫЁ-Я',
  lower_common: 'α-ωάέήίΰа-џ',
  box: '│┌┐┘├┤┬┼═-╬▀▄█▌▐░▒▓',
};
type ClassName = keyof typeof CLASSES;

/** A [...] class made of the named categories plus any literal characters. */
function anyOf(names: ClassName[], extra = ''): string {
  return '[' + names.map((n) => CLASSES[n]).join('') + extra + ']';
}

// Python's `\s` (str.isspace) and `\w` (str.isalnum or '_'); JS's own differ
// (JS `\s` has U+FEFF but lacks U+001C-U+001F and U+0085; `\p{L}` knows
// letters newer than Python's Unicode 14).
const PY_SPACE =
  '[\\t\\n\\v\\f\\r\\u001c-\\u001f \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const PY_WORD = `(?![${NEWER_THAN_UNICODE_14}])[\\p{L}\\p{N}_]`;

const acc: ClassName[] = ['lower_accented', 'upper_accented'];
const punct: ClassName[] = ['start_punctuation', 'end_punctuation'];
const arabicPair = '[ØÙ]' + anyOf(['common', 'currency', 'bad', 'numeric', 'start_punctuation'], 'ŸŠ®°µ»');

const ALTERNATIVES = [
  anyOf(['c1']),
  anyOf(['bad', ...acc, 'box', ...punct, 'currency', 'numeric', 'law']) + anyOf(['bad']),
  '[a-zA-Z]' + anyOf(['lower_common', 'upper_common']) + anyOf(['bad']),
  anyOf(['bad']) + anyOf([...acc, 'box', ...punct, 'currency', 'numeric', 'law']),
  anyOf(['lower_accented', 'lower_common', 'box', 'end_punctuation', 'currency', 'numeric']) +
    anyOf(['upper_accented']),
  anyOf(['box', 'end_punctuation', 'currency', 'numeric']) + anyOf(['lower_accented']),
  anyOf(['lower_accented', 'box', 'end_punctuation']) + anyOf(['currency']),
  PY_SPACE + anyOf(['upper_accented']) + anyOf(['currency']),
  anyOf(['upper_accented', 'box']) + anyOf(['numeric', 'law']),
  anyOf([...acc, 'box', 'currency', 'end_punctuation']) + anyOf(['start_punctuation']) + anyOf(['numeric']),
  anyOf([...acc, 'currency', 'numeric', 'box', 'law']) + anyOf(['end_punctuation']) + anyOf(['start_punctuation']),
  anyOf(['currency', 'numeric', 'box']) + anyOf(['start_punctuation']),
  '[a-z]' + anyOf(['upper_accented']) + anyOf(['start_punctuation', 'currency']),
  anyOf(['box']) + anyOf(['kaomoji']),
  anyOf([...acc, 'currency', 'numeric', ...punct, 'law']) + anyOf(['box']),
  anyOf(['box']) + anyOf(['end_punctuation']),
  anyOf(acc) + anyOf(punct) + PY_WORD,
  // The ligature œ when not followed by an unaccented Latin letter.
  '[Œœ][^A-Za-z]',
  // Degree signs after capital letters.
  anyOf(['upper_accented']) + '°',
  // Common Windows-1252 two-character mojibake not covered above.
  '[ÂÃÎÐ]' + anyOf(punct, '€œŠš¢£Ÿž\\u00a0\\u00ad®©°·»–—´'),
  '×[²³]',
  // Windows-1252 mojibake of Arabic needs the 'common' characters, so it
  // takes four characters to count.
  arabicPair + arabicPair,
  // Windows-1252 starts of 3-byte sequences of some South Asian scripts.
  'à[²µ¹¼½¾]',
  // MacRoman mojibake not covered above.
  '√[±∂†≠®™´≤≥¥µø]',
  '≈[°¢]',
  '‚Ä[ìîïòôúùû†°¢π]',
  '‚[âó][àä°ê]',
  // Windows-1251 mojibake of characters in the U+2000 block.
  'вЂ',
  // Windows-1251 mojibake of Latin-1 or Cyrillic: needs three characters.
  '[ВГРС]' + anyOf(['c1', 'bad', ...punct, 'currency'], '°µ') + '[ВГРС]',
  // Windows-1251 on top of Latin-1 on top of Windows-1252, near a Latin letter.
  'ГўВЂВ[^\\n][A-Za-z ]',
  // Windows-1252 encodings of 'à' and 'á', and of U+00A0 itself.
  'Ã[\\u00a0¡]',
  '[a-z]' + PY_SPACE + '?[ÃÂ] ',
  '^[ÃÂ] ',
  // 'Â' in front of the very character it encodes, when that one is common.
  '[a-z.,?!' + CLASSES.end_punctuation + ']Â' + anyOf(punct, ' '),
  // Windows-1253 mojibake of characters in the U+2000 block.
  'β€[™\\u00a0Ά\\u00ad®°]',
  // Windows-1253 mojibake of Latin-1 or Greek.
  '[ΒΓΞΟ]' + anyOf(['c1', 'bad', ...punct, 'currency'], '°') + '[ΒΓΞΟ]',
  // Windows-1257 mojibake of characters in the U+2000 block.
  'ā€',
];

/** ftfy's BADNESS_RE; `BADNESS_RE.search(text)` is what is_bad asks. */
export const BADNESS_PATTERN = ALTERNATIVES.join('|');

// Searching with BADNESS_PATTERN tries all its alternatives at every position, slow on long
// text. But each alternative has a character of CLASSES among its first three (the others are
// ASCII letters, punctuation or whitespace before one), so a match can only start at most two
// characters before such a character: only those positions are tried, with a sticky regex.
// (A start on the low half of a surrogate pair matches nothing: no alternative starts with one.)
const MOJIBAKE_CHAR_RE = new RegExp(`[${Object.values(CLASSES).join('')}]`, 'g');
const BADNESS_AT_RE = new RegExp(BADNESS_PATTERN, 'uy');
const MAX_LEAD = 2;

/** Whether the text contains a sequence that looks like mojibake (ftfy's is_bad). */
export function isBad(text: string): boolean {
  MOJIBAKE_CHAR_RE.lastIndex = 0;
  let untried = 0; // start positions before this one are done
  for (let found = MOJIBAKE_CHAR_RE.exec(text); found !== null; found = MOJIBAKE_CHAR_RE.exec(text)) {
    for (let start = Math.max(untried, found.index - MAX_LEAD); start <= found.index; start++) {
      BADNESS_AT_RE.lastIndex = start;
      if (BADNESS_AT_RE.test(text)) return true;
    }
    untried = found.index + 1;
  }
  return false;
}
