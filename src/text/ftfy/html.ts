// ftfy's unescape_html: decode HTML entities written with a semicolon, plus
// all-caps spellings of lower-case entity names (&EACUTE; → É), and numeric
// character references the way Python's html.unescape reads them.

import { characterEntities } from 'character-entities';
import { characterEntitiesLegacy } from 'character-entities-legacy';
import { unescapeCodePoint } from '../html.js';

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

/** html.unescape of '&#digits;' or '&#xhex;' (body without '&#' and ';'), or null. */
function numericReference(body: string): string | null {
  if (/^[0-9]+$/.test(body)) return unescapeCodePoint(Number(body));
  if (/^[xX][0-9a-fA-F]+$/.test(body)) return unescapeCodePoint(parseInt(body.slice(1), 16));
  return null; // html.unescape leaves the tail and its ';' in place
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
