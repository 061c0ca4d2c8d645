// A TypeScript port of ftfy 6.3.1's fix_text(text) with default settings, the
// first step of CLIP's text cleaning. Behaviour follows ftfy exactly (checked
// against ftfy's own test cases and CLIP's tokenizer fixtures); see the
// sibling files for each fixer.

import { isBad } from './badness.js';
import { fixC1Controls, fixEncoding } from './fix-encoding.js';
import {
  FIXER_TRIGGERS,
  fixCharacterWidth,
  fixLatinLigatures,
  fixLineBreaks,
  fixSurrogates,
  hasLoneSurrogate,
  removeControlChars,
  removeTerminalEscapes,
  uncurlQuotes,
} from './fixers.js';
import { unescapeHtml } from './html.js';
import { normalizeNfc } from './unicode14.js';

export { fixEncoding } from './fix-encoding.js';

// ftfy's max_decode_length: longer lines are cut into pieces of this many code points.
const MAX_SEGMENT_CODE_POINTS = 1_000_000;

// Text that no fixer would change: tab, LF, FF, printable ASCII without '&'.
// (CR, '&', ESC and other controls, and anything non-ASCII take the slow path.)
// (Searched for a character outside the set: /^[...]*$/ would backtrack through the text where it fails.)
const NOT_UNTOUCHED_ASCII_RE = /[^\t\n\f\x20-\x25\x27-\x7e]/;

/** Whether the text is only tab, LF, FF and printable ASCII other than '&': fixText returns it as is. */
export function isUntouchedAscii(text: string): boolean {
  return !NOT_UNTOUCHED_ASCII_RE.test(text);
}

// Characters that some step other than fix_encoding and NFC acts on: those
// of the fixers in fixers.ts, '&' (entities) and C1 controls; lone
// surrogates are checked apart.
const MAYBE_FIXABLE_RE = new RegExp(`[${FIXER_TRIGGERS}&\x80-\x9f]`);

/** Whether no fixer would change the segment: a round of them would give it back as is. */
function isClean(text: string): boolean {
  return !MAYBE_FIXABLE_RE.test(text) && !hasLoneSurrogate(text) && !isBad(text) && normalizeNfc(text) === text;
}

/**
 * One segment (a line), through all fixers, repeated until nothing changes.
 * `unescapeEntities` is false once the text has shown a literal '<' (it may be HTML).
 */
function fixSegment(text: string, unescapeEntities: boolean): string {
  // ftfy stops after a round that changes nothing; a clean text is known to be one without it.
  while (!isClean(text)) {
    const original = text;
    if (unescapeEntities) text = unescapeHtml(text);
    text = fixEncoding(text);
    text = fixC1Controls(text);
    text = fixLatinLigatures(text);
    text = fixCharacterWidth(text);
    text = uncurlQuotes(text);
    text = fixLineBreaks(text);
    text = fixSurrogates(text);
    text = removeTerminalEscapes(text);
    text = removeControlChars(text);
    text = normalizeNfc(text);
    if (text === original) return text;
  }
  return text;
}

/** Index `count` code points after `start` (or text.length). */
function advanceCodePoints(text: string, start: number, count: number): number {
  let i = start;
  for (let n = 0; n < count && i < text.length; n++) {
    const unit = text.charCodeAt(i);
    const pairs =
      unit >= 0xd800 &&
      unit <= 0xdbff &&
      i + 1 < text.length &&
      text.charCodeAt(i + 1) >= 0xdc00 &&
      text.charCodeAt(i + 1) <= 0xdfff;
    i += pairs ? 2 : 1;
  }
  return i;
}

/**
 * ftfy.fix_text(text) with default settings: repairs mojibake, HTML entities
 * (unless the text has a '<'), curly quotes, ligatures, full-width characters,
 * line breaks, control characters, then applies NFC. Works line by line.
 */
export function fixText(text: string): string {
  if (isUntouchedAscii(text)) return text;
  let out = '';
  let unescapeEntities = true;
  let pos = 0;
  while (pos < text.length) {
    let end = text.indexOf('\n', pos) + 1;
    if (end === 0) end = text.length;
    if (end - pos > MAX_SEGMENT_CODE_POINTS) end = Math.min(end, advanceCodePoints(text, pos, MAX_SEGMENT_CODE_POINTS));
    const segment = text.slice(pos, end);
    if (unescapeEntities && segment.includes('<')) unescapeEntities = false;
    out += fixSegment(segment, unescapeEntities);
    pos = end;
  }
  return out;
}
