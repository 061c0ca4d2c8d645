// WordPieceTokenizer on a tiny vocab built here: vocab loading, greedy WordPiece, [CLS]/[SEP] rows,
// and wordpieceChecks on a tiny fixture folder. Fixture-based sibling: test/wordpiece-fixtures.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../src/errors.js';
import { WordPieceTokenizer, parseVocabText } from '../src/text/wordpiece.js';
import { wordpieceChecks } from '../src/parity/wordpiece.js';

// Specials deliberately not at BERT's ids (there [CLS]=101, [SEP]=102) to show they are looked up.
const ENTRIES = [
  '[PAD]',
  '[UNK]',
  '[CLS]',
  '[SEP]', // 0..3
  'un',
  '##aff',
  '##able',
  'unaff', // 4..7
  '猫',
  '狗',
  'hi',
  ',',
  '！', // 8..12
  '[',
  'cl',
  '##s',
  ']', // 13..16
  '👍',
  '##👍',
  'a',
  '##a', // 17..20
];
const VOCAB = ENTRIES.join('\n') + '\n';
const tokenizer = WordPieceTokenizer.fromVocabText(VOCAB);
const id = (entry: string) => ENTRIES.indexOf(entry);

test('vocab.txt: one entry per line (\\n, \\r\\n or \\r), Python strip() on each, U+2028 is not a line break', () => {
  assert.deepEqual(parseVocabText('a\n \u2028 \n##\u2028\nb c\t\r\nd\re\n'), ['a', '', '##', 'b c', 'd', 'e']);
  assert.deepEqual(parseVocabText('a\nb'), ['a', 'b']); // no final newline
  assert.deepEqual(parseVocabText('a\n\nb\n'), ['a', '', 'b']); // an empty line is an entry
  assert.deepEqual(parseVocabText(''), []);
  assert.equal(tokenizer.vocabSize, ENTRIES.length);
  assert.deepEqual([tokenizer.unknownToken, tokenizer.classifierToken, tokenizer.separatorToken], [1, 2, 3]);
});

test('vocab: ids are line indices even after a U+2028 line; a repeated entry keeps its last id', () => {
  const shifted = WordPieceTokenizer.fromVocabText('[UNK]\n[CLS]\n[SEP]\n\u2028\nhi\nok\nok\n');
  assert.deepEqual(shifted.encode('hi ok'), [4, 6]);
  assert.equal(shifted.vocabSize, 7);
});

test('vocab: missing [UNK], [CLS] or [SEP] is an InputError naming the source', () => {
  assert.throws(
    () => WordPieceTokenizer.fromVocabText('[UNK]\n[CLS]\n', 'my/vocab.txt'),
    (e: unknown) => e instanceof InputError && /my\/vocab\.txt.*\[SEP\]/.test(e.message),
  );
});

test('wordpiece: greedy longest match first, "##" on continuations', () => {
  assert.deepEqual(tokenizer.wordpieces('unaffable'), ['unaff', '##able']); // 'unaff' beats 'un' + '##aff'
  assert.deepEqual(tokenizer.wordpieces('unable'), ['un', '##able']);
  assert.deepEqual(tokenizer.wordpieces('Hi, 猫狗！'), ['hi', ',', '猫', '狗', '！']);
  assert.deepEqual(tokenizer.encode('unaffable hi'), [id('unaff'), id('##able'), id('hi')]);
});

test('wordpiece: a word with an unmatchable position is one [UNK] as a whole', () => {
  assert.deepEqual(tokenizer.wordpieces('unaffx'), ['[UNK]']); // not ['unaff', '[UNK]']
  assert.deepEqual(tokenizer.wordpieces('hi xyz hi'), ['hi', '[UNK]', 'hi']);
  assert.deepEqual(tokenizer.wordpieces('a\uD800a'), ['[UNK]']); // lone surrogate: nothing matches it
  assert.deepEqual(tokenizer.encode('xyz'), [tokenizer.unknownToken]);
});

test('wordpiece: words are cut by code point, and more than 200 code points make one [UNK]', () => {
  assert.deepEqual(tokenizer.wordpieces('👍👍👍'), ['👍', '##👍', '##👍']);
  // 101 emoji = 202 UTF-16 units but 101 code points: under the limit.
  assert.deepEqual(tokenizer.wordpieces('👍'.repeat(101)), ['👍', ...Array(100).fill('##👍')]);
  assert.equal(tokenizer.wordpieces('👍'.repeat(200)).length, 200);
  assert.deepEqual(tokenizer.wordpieces('👍'.repeat(201)), ['[UNK]']);
  assert.equal(tokenizer.wordpieces('a'.repeat(200)).length, 200);
  assert.deepEqual(tokenizer.wordpieces('a'.repeat(201)), ['[UNK]']);
});

test('tokenize: [CLS] + ids + [SEP], zero-padded to 52 by default, one row per text', () => {
  const { data, shape } = tokenizer.tokenize(['hi 猫', '']);
  assert.deepEqual(shape, [2, 52]);
  const row = (i: number) => Array.from(data.subarray(i * 52, (i + 1) * 52));
  assert.deepEqual(row(0), [2, id('hi'), id('猫'), 3, ...Array(48).fill(0)]);
  assert.deepEqual(row(1), [2, 3, ...Array(50).fill(0)]); // empty text
  assert.deepEqual(tokenizer.tokenize('\u200B').data.slice(0, 3), Int32Array.of(2, 3, 0)); // all removed
  assert.deepEqual(tokenizer.tokenize('hi').shape, [1, 52]); // a single string is one row
  assert.equal(tokenizer.defaultContextLength, 52);
});

test('tokenize: a literal "[CLS]" in the text is punctuation and word pieces, never the special token', () => {
  assert.deepEqual(tokenizer.wordpieces('[CLS]'), ['[', 'cl', '##s', ']']);
  assert.deepEqual(Array.from(tokenizer.tokenize('[CLS]', { contextLength: 7 }).data), [2, 13, 14, 15, 16, 3, 0]);
});

test('tokenize: long texts keep the first contextLength-2 ids and always end with [SEP]', () => {
  const text = Array(60).fill('hi').join(' '); // 60 wordpieces
  const row = Array.from(tokenizer.tokenize(text).data);
  assert.deepEqual(row, [2, ...Array(50).fill(id('hi')), 3]);
  assert.deepEqual(Array.from(tokenizer.tokenize('hi 猫 狗', { contextLength: 4 }).data), [2, id('hi'), id('猫'), 3]);
  assert.deepEqual(Array.from(tokenizer.tokenize('hi 猫 狗', { contextLength: 5 }).data), [
    2,
    id('hi'),
    id('猫'),
    id('狗'),
    3,
  ]);
  assert.deepEqual(Array.from(tokenizer.tokenize('hi 猫 狗', { contextLength: 2 }).data), [2, 3]);
  assert.deepEqual(tokenizer.tokenize(['hi', 'hi'], { contextLength: 77 }).shape, [2, 77]);
  for (const contextLength of [1, 0, 2.5]) assert.throws(() => tokenizer.tokenize('hi', { contextLength }), InputError);
});

test('decode: entries joined by spaces, continuations glued; unknown ids throw', () => {
  assert.equal(tokenizer.decode([id('unaff'), id('##able'), id(','), id('猫')]), 'unaffable , 猫');
  assert.equal(
    tokenizer.decode(Array.from(tokenizer.tokenize('hi', { contextLength: 4 }).data)),
    '[CLS] hi [SEP] [PAD]',
  );
  assert.throws(() => tokenizer.decode([ENTRIES.length]), InputError);
  assert.throws(() => tokenizer.decode([-1]), InputError);
});

test('fromVocabFile: reads UTF-8 and rejects invalid UTF-8', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wordpiece-'));
  try {
    writeFileSync(join(dir, 'vocab.txt'), VOCAB);
    assert.deepEqual(WordPieceTokenizer.fromVocabFile(join(dir, 'vocab.txt')).encode('猫 hi'), [id('猫'), id('hi')]);
    writeFileSync(join(dir, 'bad.txt'), Buffer.from([0x5b, 0x55, 0x4e, 0x4b, 0x5d, 0x0a, 0xff, 0x0a]));
    assert.throws(
      () => WordPieceTokenizer.fromVocabFile(join(dir, 'bad.txt')),
      (e: unknown) => e instanceof InputError && /bad\.txt.*UTF-8/.test(e.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('wordpieceChecks: passes matching cases, names the aspect that differs, ignores other layouts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wordpiece-'));
  try {
    writeFileSync(join(dir, 'vocab.txt'), VOCAB);
    const good = {
      id: 0,
      category: 'ok',
      text: 'Hi 猫',
      basic_tokens: ['hi', '猫'],
      wordpieces: ['hi', '猫'],
      wordpiece_ids: [10, 8],
      input_ids: [2, 10, 8, 3, 0, 0],
    };
    const badIds = { ...good, id: 1, category: 'bad', wordpiece_ids: [10, 9] };
    const cases = {
      defaults: { context_length: 6 },
      cases: [good, badIds],
      context_length_cases: [{ text: 'hi 猫', context_length: 3, input_ids: [2, 10, 3] }],
    };
    writeFileSync(join(dir, 'tokenizer_cases.json'), JSON.stringify(cases));
    const checks = await wordpieceChecks(dir);
    assert.deepEqual(
      checks.map((c) => [c.passed, c.group]),
      [
        [true, 'tokenizer'],
        [false, 'tokenizer'],
        [true, 'tokenizer'],
      ],
    );
    assert.match(checks[1]!.detail!, /^wordpiece_ids: first difference at 1 \(ours 8, reference 9/);
    // The OpenAI layout: cases without `wordpieces`.
    writeFileSync(join(dir, 'tokenizer_cases.json'), JSON.stringify({ cases: [{ id: 0, text: 'hi', encode: [1] }] }));
    assert.deepEqual(await wordpieceChecks(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
