// All 395 reference cases (openai-clip/tokenizer_cases.json) through tokenizerChecks, and the same
// vocabulary exported as Hugging Face vocab.json + merges.txt. Self-contained siblings:
// tokenizer-bpe.test.ts and tokenizer-unicode.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OPENAI_FIXTURES, needsFixtures } from './fixtures.js';
import { type TokenizerCase, caseDifferences, tokenizerChecks } from '../src/parity/tokenizer.js';
import { Tokenizer } from '../src/text/tokenizer.js';
import { readMergesFile, vocabFromMerges } from '../src/text/vocab.js';

const skip = needsFixtures(OPENAI_FIXTURES);

function loadCases(): TokenizerCase[] {
  return (JSON.parse(readFileSync(join(OPENAI_FIXTURES, 'tokenizer_cases.json'), 'utf8')) as { cases: TokenizerCase[] })
    .cases;
}

test('tokenizer parity: every case where ftfy leaves the text alone matches exactly', { skip }, async () => {
  const checks = await tokenizerChecks(OPENAI_FIXTURES);
  const ftfyChanges = new Map(loadCases().map((c) => [c.id, c.ftfy_changes_text]));
  assert.equal(checks.length, 395);
  const caseId = (name: string) => Number(/#(\d+)/.exec(name)![1]);
  const plain = checks.filter((c) => !ftfyChanges.get(caseId(c.name)));
  const fixed = checks.filter((c) => ftfyChanges.get(caseId(c.name)));
  const failures = (list: typeof checks) => list.filter((c) => !c.passed).map((c) => `${c.name}: ${c.detail}`);
  // Cases that ftfy changes depend on the ftfy port (src/text/ftfy), reported here, not asserted.
  console.log(
    `tokenizer parity: ${plain.length - failures(plain).length}/${plain.length} without ftfy changes, ` +
      `${fixed.length - failures(fixed).length}/${fixed.length} where ftfy changes the text`,
  );
  for (const line of failures(fixed)) console.log(`  (ftfy) ${line}`);
  assert.deepEqual(failures(plain), []);
});

test('a Hugging Face vocab.json + merges.txt made from the reference file tokenizes like it', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'clip-hf-ref-'));
  try {
    const mergesText = readMergesFile(join(OPENAI_FIXTURES, 'bpe_simple_vocab_16e6.txt.gz'));
    const { encoder, merges } = vocabFromMerges(mergesText);
    // How Hugging Face's CLIP exports look: vocab.json {symbol: id}, merges.txt with a version header.
    writeFileSync(join(dir, 'vocab.json'), JSON.stringify(Object.fromEntries(encoder)));
    writeFileSync(join(dir, 'merges.txt'), `#version: 0.2\n${merges.map((m) => m.join(' ')).join('\n')}\n`);
    const hf = Tokenizer.fromHuggingFaceFiles(join(dir, 'vocab.json'), join(dir, 'merges.txt'));
    assert.equal(hf.vocabSize, 49408);
    const cases = loadCases().filter((c) => !c.ftfy_changes_text);
    const failing = cases
      .map((c) => [c.id, caseDifferences(hf, c)] as const)
      .filter(([, problems]) => problems.length > 0);
    assert.deepEqual(failing, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
