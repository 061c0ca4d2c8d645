// The whole parity suite on the Chinese-CLIP fixtures (skipped loudly without ../shared):
// WordPiece tokenizer, square preprocessing, both models with activations, and the file pipeline.
// Self-contained siblings: test/chinese-clip.test.ts, test/wordpiece-*.test.ts, test/image-*.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runParity } from '../src/parity/run.js';
import { CHINESE_FIXTURES, needsFixtures } from './fixtures.js';

test('chinese-clip fixtures: every parity check passes', { skip: needsFixtures(CHINESE_FIXTURES) }, async () => {
  const failures: string[] = [];
  const summary = await runParity(CHINESE_FIXTURES, (line) => {
    if (line.startsWith('FAIL')) failures.push(line);
  });
  assert.deepEqual(failures, []);
  assert.ok(summary.checks >= 440, `${summary.checks} checks ran`);
});
