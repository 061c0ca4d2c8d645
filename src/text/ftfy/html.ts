// ftfy's unescape_html: decode HTML entities written with a semicolon, plus
// all-caps spellings of lower-case entity names (&EACUTE; → É), and numeric
// character references the way Python's html.unescape reads them.

import { characterEntities } from 'character-entities';
import { characterEntitiesLegacy } from 'character-entities-legacy';
import { SLOPPY_WINDOWS_1252 } from './codepages.js';

// ftfy only looks at entities of at most 24 letters and digits, ';'-terminated.
const ENTITY_RE = /&#?[0-9A-Za-z]{1,24};/g;

let namedEntities: Map<string, string> | undefined;

/**
 * '&name;' → text, for every HTML5 entity, and '&NAME;' → upper-cased text for
 * lower-case names whose upper-case spelling means nothing to html.unescape
 * (it is not an entity, and no legacy entity such as '&LT' is a prefix of it).
 */
function buildNamedEntities(): Map<string, string> {
  const entities = new Map<string, string>();
  for (const [name, text] of Object.entries(characterEntities)) entities.set(`&${name};`, text);
  const legacyUpper = characterEntitiesLegacy.filter((name) => name === name.toUpperCase());
  for (const [name, text] of Object.entries(characterEntities)) {
    const upper = name.toUpperCase();
    if (name !== name.toLowerCase() || upper in characterEntities) continue;
    if (legacyUpper.some((legacy) => upper.startsWith(legacy))) continue;
    entities.set(`&${upper};`, text.toUpperCase());
  }
  return entities;
}

// What Python's html.unescape does with numeric references that HTML forbids.
function isForbiddenCodePoint(n: number): boolean {
  return (
    (n >= 0x1 && n <= 0x8) ||
    n === 0xb ||
    (n >= 0xe && n <= 0x1f) ||
    (n >= 0x7f && n <= 0x9f) ||
    (n >= 0xfdd0 && n <= 0xfdef) ||
    (n & 0xfffe) === 0xfffe // U+xFFFE and U+xFFFF in every plane
  );
}

/** html.unescape of '&#digits;' or '&#xhex;' (body without '&#' and ';'), or null. */
function numericReference(body: string): string | null {
  let n: number;
  if (/^[0-9]+$/.test(body)) n = Number(body);
  else if (/^[xX][0-9a-fA-F]+$/.test(body)) n = parseInt(body.slice(1), 16);
  else return null; // html.unescape leaves the tail and its ';' in place
  if (n === 0) return '\ufffd';
  if (n === 0x0d) return '\r';
  if (n >= 0x80 && n <= 0x9f) return SLOPPY_WINDOWS_1252.decodeByte(n); // as Windows-1252, or kept
  if ((n >= 0xd800 && n <= 0xdfff) || n > 0x10ffff) return '\ufffd';
  if (isForbiddenCodePoint(n)) return '';
  return String.fromCodePoint(n);
}

function unescapeEntity(entity: string): string {
  namedEntities ??= buildNamedEntities();
  const named = namedEntities.get(entity);
  if (named !== undefined) return named;
  if (!entity.startsWith('&#')) return entity;
  const text = numericReference(entity.slice(2, -1));
  // ftfy keeps the entity when the result still holds a ';' (that is, '&#59;').
  return text === null || text.includes(';') ? entity : text;
}

/** Replace HTML entities with the characters they stand for. */
export function unescapeHtml(text: string): string {
  return text.includes('&') ? text.replace(ENTITY_RE, unescapeEntity) : text;
}
