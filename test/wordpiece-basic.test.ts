// BERT's BasicTokenizer as Chinese-CLIP runs it, on small hand-picked inputs. Expected values are
// what the reference's Python 3.11 (unicodedata 14.0) gives for them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CJK_IDEOGRAPHS,
  NONSPACING_MARKS,
  PUNCTUATION_CHARS,
  REMOVED_CHARS,
  SPACE_CHARS,
  basicTokenize,
} from '../src/text/bert-basic.js';

test('character classes agree with Python 3.11 unicodedata (Unicode 14.0) over all code points', () => {
  // Counts from unicodedata 14.0: Cc 65 + Cf 163 + U+FFFD − tab/LF/CR = 226 removed; Zs 17 + tab/LF/CR
  // = 20 spaces; Mn 1950; P* 819 + the 9 ASCII symbols $+<=>^`|~ = 828. A newer Node that assigns
  // characters the unicode14 table does not list changes these counts.
  const single = (re: RegExp) => new RegExp(`^${re.source}$`, re.flags.replace('g', ''));
  const classes = {
    removed: single(REMOVED_CHARS),
    space: single(SPACE_CHARS),
    mark: single(NONSPACING_MARKS),
    punctuation: single(PUNCTUATION_CHARS),
    cjk: single(CJK_IDEOGRAPHS),
  };
  const counts = { removed: 0, space: 0, mark: 0, punctuation: 0, cjk: 0 };
  for (let cp = 0; cp < 0x110000; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue; // Cs: in no class
    const ch = String.fromCodePoint(cp);
    for (const name of Object.keys(classes) as (keyof typeof classes)[]) if (classes[name].test(ch)) counts[name]++;
  }
  // CJK: the sizes of the reference's eight ranges, 20992+6592+42720+4160+224+5776+512+544.
  assert.deepEqual(counts, { removed: 226, space: 20, mark: 1950, punctuation: 828, cjk: 81520 });
});

test('cleaning: control and format characters vanish without separating words; Zs becomes a space', () => {
  // ZWSP, ZWJ, BOM, soft hyphen
  assert.deepEqual(basicTokenize('a\u200Bb c\u200Dd \uFEFFe f\u00ADg'), ['ab', 'cd', 'e', 'fg']);
  assert.deepEqual(basicTokenize('a\u0000b\uFFFDc\u0085d\u000Be\u000Cf\u001Fg\u001Bh\u007Fi'), ['abcdefghi']);
  assert.deepEqual(basicTokenize('a\u00A0b\u3000c\td\ne\rf\u2003g\u202Fh\u1680i'), [
    'a',
    'b',
    'c',
    'd',
    'e',
    'f',
    'g',
    'h',
    'i',
  ]);
  // Line/paragraph separators (Zl, Zp) survive cleaning but Python's split() still splits on them.
  assert.deepEqual(basicTokenize('a\u2028b\u2029c'), ['a', 'b', 'c']);
  assert.deepEqual(basicTokenize(''), []);
  assert.deepEqual(basicTokenize(' \u200B\t\u3000 '), []);
  // Astral format characters too (tag characters, musical symbol begin beam).
  assert.deepEqual(basicTokenize('x\u{E0001}y\u{1D173}z'), ['xyz']);
});

test('CJK splitting: ideographs (BMP, astral, compatibility) stand alone; kana, hangul, extension F+ do not', () => {
  assert.deepEqual(basicTokenize('一只猫cat坐'), ['一', '只', '猫', 'cat', '坐']);
  assert.deepEqual(basicTokenize('a𠀀b'), ['a', '𠀀', 'b']); // U+20000, extension B
  assert.deepEqual(basicTokenize('a\u{2B820}b'), ['a', '\u{2B820}', 'b']); // extension E
  assert.deepEqual(basicTokenize('a\u{2CEB0}b'), ['a\u{2CEB0}b']); // extension F: outside the reference's ranges
  assert.deepEqual(basicTokenize('a\u{30000}b'), ['a\u{30000}b']); // extension G
  assert.deepEqual(basicTokenize('a\uF900b'), ['a', '\u8C48', 'b']); // compatibility ideograph, then NFD
  assert.deepEqual(basicTokenize('ねこ\u3400'), ['ねこ', '\u3400']);
  assert.deepEqual(basicTokenize('한국'), ['\u1112\u1161\u11AB\u1100\u116E\u11A8']); // NFD jamo are not marks
});

test('lower-casing (Python str.lower) and accent stripping (NFD, drop Mn)', () => {
  assert.deepEqual(basicTokenize('Café NAÏVE Ñandú'), ['cafe', 'naive', 'nandu']);
  assert.deepEqual(basicTokenize('İstanbul'), ['istanbul']); // İ → i + U+0307, the dot is Mn
  assert.deepEqual(basicTokenize('ΟΔΟΣ ΣΑ'), ['οδος', 'σα']); // final sigma only at the end of a word
  assert.deepEqual(basicTokenize('Ａ ẞ'), ['ａ', 'ß']);
  assert.deepEqual(basicTokenize('がパ ❤️'), ['かハ', '❤']); // (han)dakuten and U+FE0F are Mn
  assert.deepEqual(basicTokenize('ｶﾞ ﬁ 1\u20E3'), ['ｶﾞ', 'ﬁ', '1\u20E3']); // NFD, not NFKD; Me kept
});

test('Unicode 14 semantics: characters assigned later are inert, U+1171E is still a mark', () => {
  // U+105C9 (Todhri, Unicode 16) decomposes to U+105D2 U+0307 for this engine; for Python it is
  // unassigned, so nothing decomposes and no dot is stripped.
  assert.deepEqual(basicTokenize('a\u{105C9}'), ['a\u{105C9}']);
  assert.deepEqual(basicTokenize('a\u{10ED0}b'), ['a\u{10ED0}b']); // Po since Unicode 16: not punctuation
  assert.deepEqual(basicTokenize('a\u{13439}b'), ['a\u{13439}b']); // Cf since Unicode 15: not removed
  assert.deepEqual(basicTokenize('a\u{1E4EC}'), ['a\u{1E4EC}']); // Mn since Unicode 15: not stripped
  assert.deepEqual(basicTokenize('a\u{1171E}b'), ['ab']); // Mn in Unicode 14, Mc since
});

test('punctuation: every P* character and ASCII symbol is its own token; S* symbols stay glued', () => {
  assert.deepEqual(basicTokenize('a$b+c<d=e>f^g`h|i~j'), [
    'a',
    '$',
    'b',
    '+',
    'c',
    '<',
    'd',
    '=',
    'e',
    '>',
    'f',
    '^',
    'g',
    '`',
    'h',
    '|',
    'i',
    '~',
    'j',
  ]);
  assert.deepEqual(basicTokenize('Hi,你好！「test」…'), ['hi', ',', '你', '好', '！', '「', 'test', '」', '…']);
  assert.deepEqual(basicTokenize('100¥ 5€ 30°c ①② x²'), ['100¥', '5€', '30°c', '①②', 'x²']);
  assert.deepEqual(basicTokenize('👍🔥ok'), ['👍🔥ok']);
  assert.deepEqual(basicTokenize('[CLS] ##'), ['[', 'cls', ']', '#', '#']);
  // U+037E (Greek question mark) becomes ';' under NFD, after which it is split off.
  assert.deepEqual(basicTokenize('a\u037Eb'), ['a', ';', 'b']);
});

test('a lone surrogate is an ordinary character (kept, not a separator)', () => {
  assert.deepEqual(basicTokenize('a\uD800b'), ['a\uD800b']);
});
