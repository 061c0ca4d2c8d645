// Text cleaning before BPE, step for step as clip/simple_tokenizer.py: basic_clean, whitespace_clean,
// lower(), then the split regex that cuts the text into the pieces BPE encodes one by one.
import { fixText, isUntouchedAscii } from './ftfy/index.js';
import { htmlUnescape } from './html.js';
import { PY_LETTER, PY_NUMBER, PY_REGEX_WHITESPACE, pyLower, pyStrip } from './unicode.js';
import { OPENAI_SPECIAL_TOKENS, type SpecialTokens } from './vocab.js';

/** `basic_clean`: ftfy.fix_text, html.unescape twice, strip(). */
export function basicClean(text: string): string {
  return pyStrip(htmlUnescape(htmlUnescape(fixText(text))));
}

// Runs of `\s` that aren't already a single ' ': the only ones whose replacement changes the text
// (skipping the others saves building a new string for every space).
const WHITESPACE_TO_REPLACE = new RegExp(`[${PY_REGEX_WHITESPACE}]{2,}|[${PY_REGEX_WHITESPACE.replace(' ', '')}]`, 'g');

/** `whitespace_clean`: regex `\s+` → one space, strip(). */
export function whitespaceClean(text: string): string {
  return pyStrip(text.replace(WHITESPACE_TO_REPLACE, ' '));
}

/** What `SimpleTokenizer.encode` splits: `whitespace_clean(basic_clean(text)).lower()`. */
export function cleanText(text: string): string {
  return pyLower(whitespaceClean(basicClean(text)));
}

// The reference's `pat`, compiled there with regex.IGNORECASE and applied to lower-cased text:
//   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// (open_clip's starts with its own names, <start_of_text>|<end_of_text>, unescaped).
// Read by hand below (as a regex, with these Unicode classes, 2-4x slower on captions), with what
// IGNORECASE means on lower-cased text spelled out: 'ſ' (U+017F) case-folds to 's', so `'ſ` is a
// contraction and `<|ſtartoftext|>` a special token; U+0345 (which folds to the letter ι) is in
// neither `[\p{L}]` nor its complement there, so it is dropped like whitespace.

const CONTRACTIONS = ["'s", "'\u017F", "'t", "'re", "'ve", "'m", "'ll", "'d"];

/** Every spelling IGNORECASE matches on lower-cased text: each 's' may also be 'ſ'. */
function caseVariants(token: string): string[] {
  const i = token.indexOf('s');
  if (i < 0) return [token];
  return caseVariants(token.slice(i + 1)).flatMap((rest) => [
    `${token.slice(0, i)}s${rest}`,
    `${token.slice(0, i)}\u017F${rest}`,
  ]);
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The pattern's special-token alternatives for one tokenizer, and the pattern on ASCII text. */
interface Splitter {
  /** The alternatives tried first at a '<'. */
  specials: readonly string[];
  /** The pattern on ASCII text, where its classes are plain ranges: faster than reading by hand. */
  ascii: RegExp;
}

const splitters = new Map<string, Splitter>();

function splitterFor(tokens: SpecialTokens): Splitter {
  const key = `${tokens.start}\0${tokens.end}`;
  let splitter = splitters.get(key);
  if (!splitter) {
    const names = [tokens.start, tokens.end];
    const ascii = new RegExp(
      `${names.map(escapeRegex).join('|')}|'s|'t|'re|'ve|'m|'ll|'d|[a-zA-Z]+|[0-9]|[^\\t\\n\\v\\f\\r a-zA-Z0-9]+`,
      'g',
    );
    splitter = { specials: names.flatMap(caseVariants), ascii };
    splitters.set(key, splitter);
  }
  return splitter;
}

/** Length of the special token or contraction at `i`, or 0. */
function specialAt(text: string, i: number, specials: readonly string[]): number {
  const c = text.charCodeAt(i);
  const candidates = c === 0x3c ? specials : c === 0x27 ? CONTRACTIONS : undefined;
  if (candidates !== undefined) for (const s of candidates) if (text.startsWith(s, i)) return s.length;
  return 0;
}

// What the rest of the pattern makes of a code point: `[\p{L}]+` runs, `[\p{N}]` alone,
// `[^\s\p{L}\p{N}]+` runs, or nothing (whitespace, U+0345).
const SKIPPED = 1;
const LETTER = 2;
const NUMBER = 3;
const OTHER = 4;

const IS_LETTER = new RegExp(`^${PY_LETTER}$`, 'v');
const IS_NUMBER = new RegExp(`^${PY_NUMBER}$`, 'v');
const IS_SKIPPED = new RegExp(`^[${PY_REGEX_WHITESPACE}\u0345]$`, 'u');

/** Kinds of code points seen so far, found once each with the regexes above (0: not yet). */
const BMP_KINDS = new Uint8Array(0x10000);
const ASTRAL_KINDS = new Map<number, number>();

function classify(codePoint: number): number {
  const ch = String.fromCodePoint(codePoint);
  if (IS_LETTER.test(ch)) return LETTER;
  if (IS_NUMBER.test(ch)) return NUMBER;
  return IS_SKIPPED.test(ch) ? SKIPPED : OTHER;
}

/** The code point at `i`, a position inside `text`. */
function codePointAt(text: string, i: number): number {
  const codePoint = text.codePointAt(i);
  if (codePoint === undefined) throw new RangeError(`position ${i} is past the end of the text`);
  return codePoint;
}

function kindOf(codePoint: number): number {
  if (codePoint < 0x10000) {
    let kind = BMP_KINDS[codePoint] ?? 0; // 0: not classified yet
    if (kind === 0) BMP_KINDS[codePoint] = kind = classify(codePoint);
    return kind;
  }
  let kind = ASTRAL_KINDS.get(codePoint);
  if (kind === undefined) ASTRAL_KINDS.set(codePoint, (kind = classify(codePoint)));
  return kind;
}

/** Index after the run of `kind` that starts at `i` (letters and others come in runs). */
function runEnd(text: string, i: number, kind: number): number {
  while (i < text.length) {
    const unit = text.charCodeAt(i);
    if (unit < 0xd800 || unit > 0xdfff) {
      // Not a surrogate: the unit is the code point (the common case, kept short).
      if ((BMP_KINDS[unit] || kindOf(unit)) !== kind) break;
      i++;
    } else {
      const codePoint = codePointAt(text, i);
      if (kindOf(codePoint) !== kind) break;
      i += codePoint > 0xffff ? 2 : 1;
    }
  }
  return i;
}

const NOT_ASCII = /[^\0-\x7f]/;

/** `regex.findall(pat, text)` on cleaned, lower-cased text: the pieces that BPE encodes. */
export function splitPieces(text: string, tokens: SpecialTokens = OPENAI_SPECIAL_TOKENS): string[] {
  const splitter = splitterFor(tokens);
  if (!NOT_ASCII.test(text)) return text.match(splitter.ascii) ?? [];
  const pieces: string[] = [];
  let i = 0;
  while (i < text.length) {
    const special = specialAt(text, i, splitter.specials);
    if (special > 0) {
      pieces.push(text.slice(i, i + special));
      i += special;
      continue;
    }
    const codePoint = codePointAt(text, i);
    const kind = kindOf(codePoint);
    let end = i + (codePoint > 0xffff ? 2 : 1);
    if (kind === LETTER || kind === OTHER) end = runEnd(text, end, kind);
    if (kind !== SKIPPED) pieces.push(text.slice(i, end));
    i = end;
  }
  return pieces;
}

/**
 * What `SimpleTokenizer.encode` hands to BPE: `splitPieces(cleanText(text))`.
 * Most captions are plain ASCII that cleaning can only touch in its whitespace: fixText returns
 * them as is, there is no '&' to unescape, and their only whitespace (tab, LF, FF, space) is
 * what the split skips anyway, so collapsing and stripping it changes no piece. Those go
 * straight to lower() and the ASCII split.
 */
export function textPieces(text: string, tokens: SpecialTokens = OPENAI_SPECIAL_TOKENS): string[] {
  if (isUntouchedAscii(text)) return text.toLowerCase().match(splitterFor(tokens).ascii) ?? [];
  return splitPieces(cleanText(text), tokens);
}
