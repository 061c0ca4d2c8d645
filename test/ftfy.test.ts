// Self-contained checks of fixText, one group per ftfy fixer. Each expected
// value follows from the rule named in the test (and agrees with ftfy 6.3.1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixEncoding, fixText } from '../src/text/ftfy/index.js';
import { BADNESS_PATTERN, isBad } from '../src/text/ftfy/badness.js';

test('clean text comes back unchanged', () => {
  for (const text of [
    '',
    'a photo of a dog',
    'un café très agréable',
    '日本語のテキスト',
    'emoji 😀👍🏽',
    'tab\tand\nnewline\fff',
  ]) {
    assert.equal(fixText(text), text);
  }
});

test('uncurl_quotes: curly single and double quotes (and U+02BC) become straight', () => {
  assert.equal(fixText('\u201chere\u2019s a test\u201d \u02bc'), '"here\'s a test" \'');
});

test('fix_latin_ligatures: Latin ligatures and legacy digraphs are split, æ is kept', () => {
  assert.equal(fixText('\ufb02ubberi\ufb01c \u01c5 \ufb05 \u00e6'), 'flubberific D\u017e \u017ft \u00e6');
});

test('fix_character_width: full-width forms and U+3000 become standard width', () => {
  // NFKC of U+FF2C is 'L'; half-width katakana U+FF76 becomes full-width カ.
  assert.equal(
    fixText('\uff2c\uff2f\uff35\uff24\u3000\uff2e\uff2f\uff29\uff33\uff25\uff33 \uff76'),
    'LOUD NOISES \u30ab',
  );
});

test('fix_c1_controls: C1 controls are read as Windows-1252', () => {
  assert.equal(fixText('em\x97dash'), 'em\u2014dash'); // 0x97 is an em dash
  assert.equal(fixText('\x93quoted\x94'), '"quoted"'); // curly quotes, then uncurled
  assert.equal(fixText('next\x85line'), 'next\u2026line'); // an ellipsis, not a line break
  assert.equal(fixText('a\x81b'), 'a\x81b'); // undefined in Windows-1252: kept
});

test('fix_encoding: UTF-8 read as Latin-1 / Windows-1252 is decoded again', () => {
  assert.equal(fixText('caf\u00c3\u00a9'), 'caf\u00e9'); // C3 A9 is UTF-8 for é
  assert.equal(fixText('This \u00e2\u20ac\u201d should be an em dash'), 'This \u2014 should be an em dash');
  assert.equal(fixText('\u00e2\u20ac\u0153mojibake\u00e2\u20ac\x9d'), '"mojibake"');
  // Two layers: ಠ is E0 B2 A0, each byte of which was encoded once more.
  assert.equal(fixText('\u00c3\u00a0\u00c2\u00b2\u00c2\u00a0_\u00c3\u00a0\u00c2\u00b2\u00c2\u00a0'), '\u0ca0_\u0ca0');
  // A no-break space that became a plain space is put back ("à " is C3 A0 20).
  assert.equal(fixText('\u00c3 la mode'), '\u00e0 la mode');
  // Legitimate text that merely looks odd is left alone.
  assert.equal(
    fixText('not such a fan of Charlotte Bront\u00eb\u2026'),
    'not such a fan of Charlotte Bront\u00eb\u2026',
  );
  // fix_encoding alone keeps curly quotes
  assert.equal(fixEncoding('caf\u00c3\u00a9 \u201cok\u201d'), 'caf\u00e9 \u201cok\u201d');
});

test('fix_encoding: CESU-8 and Java modified UTF-8 are accepted', () => {
  // U+1F60D as two 3-byte surrogates (ED A0 BD, ED B8 8D), read as Latin-1.
  assert.equal(fixText('\u00ed\u00a0\u00bd\u00ed\u00b8\x8d'), '\u{1f60d}');
  // C0 80 is Java's U+0000, which remove_control_chars then drops.
  assert.equal(fixText('\u00c0\x80'), '');
});

test("fix_encoding: a line ending in 'À' loses its newline, as in ftfy", () => {
  // The line re-encodes to ... C3 A9 20 C0 0A, and ftfy's utf-8-variants regex
  // (Python's '$' matches before a final newline) reads C0 0A as Java's U+0000.
  assert.equal(fixText('\u00c3\u00a9t\u00c3\u00a9 \u00c0\nnext'), '\u00e9t\u00e9 next');
});

test('unescape_html: entities are decoded when the text has no "<"', () => {
  assert.equal(fixText('HTML entities &lt;3'), 'HTML entities <3');
  assert.equal(fixText('<em>HTML entities &lt;3</em>'), '<em>HTML entities &lt;3</em>');
  assert.equal(fixText('&amp;amp;amp;'), '&'); // repeated until nothing changes
  assert.equal(fixText('&EACUTE;t&Eacute;'), '\u00c9t\u00c9'); // all-caps names of lower-case entities
  assert.equal(fixText('it&#x2019;s'), "it's"); // then uncurled
  assert.equal(fixText('&#150; &#0; a&#1;b &#x110000;'), '\u2013 \ufffd ab \ufffd'); // html.unescape's rules
  assert.equal(fixText('&#59; &ampx; &notit;'), '&#59; &ampx; &notit;'); // ';' result, unknown names
  // Once a line has shown a '<', later lines are not unescaped either.
  assert.equal(fixText('x &amp;\n<p>\n&amp;'), 'x &\n<p>\n&amp;');
});

test('remove_terminal_escapes: ANSI colour codes are dropped', () => {
  assert.equal(fixText('\x1b[36;44mblue\x1b[0m'), 'blue');
});

test('fix_line_breaks: CRLF, CR, U+2028 and U+2029 become LF', () => {
  assert.equal(fixText('a\r\nb\rc\u2028d\u2029e'), 'a\nb\nc\nd\ne');
});

test('remove_control_chars: C0 controls other than tab/LF/FF/CR, and the BOM, are removed', () => {
  assert.equal(fixText('vertical\x0btab'), 'verticaltab');
  assert.equal(fixText('\ufeffParty\x00\x7f'), 'Party');
  assert.equal(fixText('a\tb\fc'), 'a\tb\fc');
});

test('fix_surrogates: a lone surrogate becomes U+FFFD, pairs stay', () => {
  assert.equal(fixText('a\ud800b \ud83d\ude00'), 'a\ufffdb \ud83d\ude00');
});

test('normalization: NFC as of Unicode 14, the version ftfy ran with', () => {
  assert.equal(fixText('e\u0301'), '\u00e9');
  // U+105D2 U+0307 composes to U+105C9 in Unicode 16, but both were
  // unassigned in Unicode 14, so ftfy's Python leaves the pair as it is.
  assert.equal(fixText('\u{105d2}\u0307'), '\u{105d2}\u0307');
});

test('is_bad: trying only the positions near suspicious characters finds what a full search finds', () => {
  // Short random mixes of mojibake-prone characters, ASCII and others, many of them bad; the
  // expected answer is the plain search of ftfy's pattern over the whole string.
  const search = new RegExp(BADNESS_PATTERN, 'u');
  const alphabet = [
    ...'ÃÂÎÐÅÉéàâü€œŒšŠ¢£¥©®°±²³µ·»¼½¾¿×÷ØÙ‘’“”„•–—…‹›™ВГРСвЂβΑΟā√≈‚Ä│┐▀',
    ...'ab Z.,?!\n\t0_',
    '\u00a0',
    '\x85',
    '\ufffd',
    '😀',
    '猫',
  ];
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  let bad = 0;
  for (let i = 0; i < 20000; i++) {
    const text = Array.from(
      { length: 1 + Math.floor(next() * 6) },
      () => alphabet[Math.floor(next() * alphabet.length)],
    ).join('');
    const expected = search.test(text);
    bad += Number(expected);
    assert.equal(isBad(text), expected, JSON.stringify(text));
  }
  assert.ok(bad > 2000 && bad < 18000, `a useful mix of good and bad strings (${bad} bad)`);
});
