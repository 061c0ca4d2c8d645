// The WordPiece tokenizer against Chinese-CLIP's golden cases (reference cn_clip, Python 3.11).
// Fixture-free sibling: test/wordpiece-tokenizer.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wordpieceChecks } from '../src/parity/wordpiece.js';
import { CHINESE_FIXTURES, OPENAI_FIXTURES, needsFixtures } from './fixtures.js';

test('wordpieceChecks: every Chinese-CLIP tokenizer case and context-length case matches', {
  skip: needsFixtures(CHINESE_FIXTURES),
}, async () => {
  const checks = await wordpieceChecks(CHINESE_FIXTURES);
  const failed = checks.filter((c) => !c.passed);
  console.log(`wordpiece parity: ${checks.length - failed.length}/${checks.length} passed`);
  // 374 cases + 10 context-length cases (README of the fixture folder).
  assert.equal(checks.length, 384);
  assert.deepEqual(
    failed.map((c) => `${c.name}: ${c.detail}`),
    [],
  );
});

test('wordpieceChecks: a folder with the OpenAI layout gives no checks', {
  skip: needsFixtures(OPENAI_FIXTURES),
}, async () => {
  assert.deepEqual(await wordpieceChecks(OPENAI_FIXTURES), []);
});
