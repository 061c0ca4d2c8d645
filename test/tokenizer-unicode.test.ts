// The reference's character semantics (Python 3.11 str methods, regex 2022.10.31, html.unescape),
// on small hand-picked inputs; expected values are what the reference's Python gives for them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitPieces, whitespaceClean } from '../src/text/clean.js';
import { htmlUnescape } from '../src/text/html.js';
import { PY_LETTER, PY_NUMBER, PY_REGEX_WHITESPACE, caseClass, pyLower, pyStrip } from '../src/text/unicode.js';

test('this engine still agrees with the reference Unicode tables after our corrections', () => {
  // Counts over all code points, from Python 3.11.2 + regex 2022.10.31 (the reference's): a newer
  // Node that adds letters or case mappings changes them, and the tables in unicode.ts need extending.
  const letter = new RegExp(`^${PY_LETTER}$`, 'v');
  const number = new RegExp(`^${PY_NUMBER}$`, 'v');
  const counts = { letters: 0, numbers: 0, lowered: 0, cased: 0, ignorable: 0 };
  for (let cp = 0; cp < 0x110000; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const ch = String.fromCodePoint(cp);
    if (letter.test(ch)) counts.letters++;
    if (number.test(ch)) counts.numbers++;
    if (pyLower(ch) !== ch) counts.lowered++;
    const cls = caseClass(ch);
    if (cls !== 'other') counts[cls]++;
  }
  assert.deepEqual(counts, { letters: 136104, numbers: 1831, lowered: 1433, cased: 4253, ignorable: 2602 });
});

test('split regex: letters run together, every digit alone, the rest in runs, contractions anywhere', () => {
  assert.deepEqual(splitPieces("it's 2024, don't stop!!"), [
    'it',
    "'s",
    '2',
    '0',
    '2',
    '4',
    ',',
    'don',
    "'t",
    'stop',
    '!!',
  ]);
  assert.deepEqual(splitPieces("'single'"), ["'s", 'ingle', "'"]);
  assert.deepEqual(splitPieces('café naïve'), ['café', 'naïve']); // Ll with diacritics
  assert.deepEqual(splitPieces('猫の写真'), ['猫の写真']); // Lo
  assert.deepEqual(splitPieces('ⅻ½٣'), ['ⅻ', '½', '٣']); // Nl, No, Nd: one piece each
  assert.deepEqual(splitPieces('a\u0301b'), ['a', '\u0301', 'b']); // Mn is not a letter
  assert.deepEqual(splitPieces('😀👍'), ['😀👍']); // So runs
  assert.deepEqual(splitPieces('a <|endoftext|> b<|startoftext|>'), ['a', '<|endoftext|>', 'b', '<|startoftext|>']);
});

test('split regex: the ASCII fast path splits like the full pattern', () => {
  // Every ASCII character in many short mixes; a non-ASCII tail forces the full pattern.
  let seed = 1;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const alphabet =
    [...Array(128).keys()].map((c) => String.fromCharCode(c)).join('') + "'s't're've'm'll'd<|endoftext|>";
  for (let i = 0; i < 2000; i++) {
    const text = Array.from(
      { length: 1 + Math.floor(next() * 12) },
      () => alphabet[Math.floor(next() * alphabet.length)],
    ).join('');
    assert.deepEqual([...splitPieces(text), 'é'], splitPieces(`${text} é`), JSON.stringify(text));
  }
});

test('split regex: the hand-written split finds what the pattern as a JS regex finds', () => {
  // The reference's pat with its classes pinned to the reference's Unicode (see clean.ts), as one
  // regex: slow, but a direct reading of the pattern, run on random mixes of every kind of piece.
  const pattern = new RegExp(
    String.raw`<\|[sſ]tartoftext\|>|<\|endoftext\|>|'[sſ]|'t|'re|'ve|'m|'ll|'d|${PY_LETTER}+|${PY_NUMBER}` +
      String.raw`|[^${PY_REGEX_WHITESPACE}\u0345${PY_LETTER}${PY_NUMBER}]+`,
    'gv',
  );
  const atoms = [
    'a',
    'é',
    'ſ',
    "'",
    's',
    'll',
    're',
    'x',
    '<|endoftext|>',
    '<|ſtartoftext|>',
    '<|',
    '|>',
    ' ',
    '\u3000',
    '\u0085',
    '\u0345',
    '\u0301',
    '1',
    '٣',
    '½',
    '猫',
    'の',
    '😀',
    '\u{11F04}',
    '\u{10D50}',
    '\u180e',
    '\ud800',
    '\udc00',
    '!',
    '—',
    '’',
    '\u001c',
  ];
  let seed = 3;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 3000; i++) {
    const text = Array.from(
      { length: 1 + Math.floor(next() * 10) },
      () => atoms[Math.floor(next() * atoms.length)],
    ).join('');
    assert.deepEqual(splitPieces(text), text.match(pattern) ?? [], JSON.stringify(text));
  }
});

test('split regex: IGNORECASE and Unicode-version details of the reference', () => {
  // ſ case-folds to s under regex.IGNORECASE.
  assert.deepEqual(splitPieces("x'ſ"), ['x', "'ſ"]);
  assert.deepEqual(splitPieces('<|ſtartoftext|>'), ['<|ſtartoftext|>']);
  // U+0345 folds to the letter ι: neither [\p{L}] nor [^\s\p{L}\p{N}] matches it, so it vanishes.
  assert.deepEqual(splitPieces('a\u0345b'), ['a', 'b']);
  // Kawi U+11F04 is a letter in Unicode 15; Garay U+10D50 (Unicode 16) is unassigned there.
  assert.deepEqual(splitPieces('\u{11F04}\u{11F05}'), ['\u{11F04}\u{11F05}']);
  assert.deepEqual(splitPieces('a\u{10D50}b'), ['a', '\u{10D50}', 'b']);
  // U+180E and U+200B are not whitespace for regex's \s.
  assert.deepEqual(splitPieces('a\u180eb\u200bc'), ['a', '\u180e', 'b', '\u200b', 'c']);
});

test("whitespace: regex's \\s collapses (U+0085 yes, U+FEFF no), strip() also takes U+001C..U+001F", () => {
  assert.equal(whitespaceClean(' a\t\n\u0085\u00a0\u3000b  '), 'a b');
  assert.equal(whitespaceClean('a\ufeffb\u200bc'), 'a\ufeffb\u200bc');
  assert.equal(whitespaceClean('a\u001cb'), 'a\u001cb'); // not \s in the middle
  assert.equal(pyStrip('\u001c a \u001f'), 'a'); // but isspace() at the ends
});

test("lower(): Python 3.11's full Unicode 14 mapping", () => {
  assert.equal(pyLower('İstanbul'), 'i\u0307stanbul'); // two code points
  assert.equal(pyLower('ΣΊΣΥΦΟΣ'), 'σίσυφος'); // final sigma only at the end of a word
  assert.equal(pyLower('ΑΣ\u0301 Σ'), 'ας\u0301 σ'); // combining mark is skipped; a lone Σ is not final
  assert.equal(pyLower('ẞ Ⅻ Ꭰ'), 'ß ⅻ ꭰ');
  // Added after Unicode 14: Python keeps them, and they don't make Σ final or not.
  assert.equal(pyLower('\u{10D50}\uA7CB'), '\u{10D50}\uA7CB');
  assert.equal(pyLower('ΑΣ\u{10D50}'), 'ας\u{10D50}');
  assert.equal(pyLower('ʕΣ'), 'ʕς'); // U+0295 was a cased letter in Unicode 14
});

test("html.unescape: Python's quirks", () => {
  assert.equal(htmlUnescape('&amp;amp;'), '&amp;'); // one level per call
  assert.equal(htmlUnescape('&ampx; &lt &LT; &notit;'), '&x; < < ¬it;'); // legacy names, also as prefixes
  assert.equal(htmlUnescape('&notin; &unknown; &#65;&#x42;&#X43'), '∉ &unknown; ABC');
  assert.equal(htmlUnescape('&#150;&#x80;&#0;&#55296;&#1114112;'), '–€\ufffd\ufffd\ufffd'); // Windows-1252, U+FFFD
  assert.equal(htmlUnescape('a&#1;&#x7f;&#xFFFE;b&#13;'), 'ab\r'); // invalid code points vanish
  assert.equal(htmlUnescape(`&${'a'.repeat(40)};`), `&${'a'.repeat(40)};`); // names are at most 32 long
});
