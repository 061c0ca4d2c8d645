// Python's html.unescape (3.11), hand-written because the reference's token ids depend on its exact
// quirks, which HTML parsers in JS don't share: entity names of at most 32 characters, legacy names
// that work without ';' and as a prefix (`&ampx;` → `&x;`), Windows-1252 for &#128;–&#159;,
// U+FFFD for &#0;, surrogates and values past U+10FFFF, and '' for other invalid code points.
// The entity table is WHATWG's, from character-entities (verified equal to Python's html5 dict).
import { characterEntities } from 'character-entities';
import { characterEntitiesLegacy } from 'character-entities-legacy';
import { SLOPPY_WINDOWS_1252 } from './ftfy/codepages.js';

/** Python's html.entities.html5: 'name;' for every entity, 'name' alone for the legacy ones. */
const HTML5 = new Map<string, string>();
for (const [name, value] of Object.entries(characterEntities)) HTML5.set(`${name};`, value);
for (const name of characterEntitiesLegacy) {
  const value = characterEntities[name];
  if (value !== undefined) HTML5.set(name, value);
}

const CHARREF = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/gu;

// Python's _invalid_charrefs for &#128;–&#159; are Windows-1252, with its 5 holes kept as C1
// controls: exactly ftfy's sloppy-windows-1252 table. (Node 20's TextDecoder('windows-1252')
// returns '' for a lone byte, so it can't be used.)
function isInvalidCodePoint(n: number): boolean {
  return (
    (n >= 0x1 && n <= 0x8) ||
    n === 0xb ||
    (n >= 0xe && n <= 0x1f) ||
    (n >= 0x7f && n <= 0x9f) ||
    (n >= 0xfdd0 && n <= 0xfdef) ||
    (n & 0xfffe) === 0xfffe
  ); // U+xFFFE and U+xFFFF in every plane
}

/** What html.unescape makes of the numeric character reference &#n; (used by ftfy's unescape too). */
export function unescapeCodePoint(n: number): string {
  if (n === 0) return '\uFFFD';
  if (n === 0x0d) return '\r';
  if (n >= 0x80 && n <= 0x9f) return SLOPPY_WINDOWS_1252.decodeByte(n);
  if ((n >= 0xd800 && n <= 0xdfff) || n > 0x10ffff) return '\uFFFD';
  if (isInvalidCodePoint(n)) return '';
  return String.fromCodePoint(n);
}

function numericCharref(ref: string): string {
  const hex = ref[1] === 'x' || ref[1] === 'X';
  // parseInt stops at the ';'; huge values become large floats or Infinity, all past U+10FFFF.
  return unescapeCodePoint(Number.parseInt(ref.slice(hex ? 2 : 1), hex ? 16 : 10));
}

function namedCharref(ref: string): string {
  const whole = HTML5.get(ref);
  if (whole !== undefined) return whole;
  // The longest prefix (at least 2 characters) that is a legacy name; the rest stays as text.
  for (let length = ref.length - 1; length > 1; length--) {
    const value = HTML5.get(ref.slice(0, length));
    if (value !== undefined) return value + ref.slice(length);
  }
  return `&${ref}`;
}

/** Python's `html.unescape(s)`. */
export function htmlUnescape(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(CHARREF, (_match, ref: string) => (ref[0] === '#' ? numericCharref(ref) : namedCharref(ref)));
}
