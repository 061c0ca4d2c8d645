// Model parity against the reference outputs in ../shared (skipped loudly without it): every
// checkpoint format loads and reproduces features, logits and per-layer activations.
// Self-contained siblings: test/models.test.ts and test/graph.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { modelChecks } from '../src/parity/models.js';
import { needsFixtures, OPENAI_FIXTURES } from './fixtures.js';

test('openai-clip fixtures: every checkpoint matches the reference outputs', {
  skip: needsFixtures(OPENAI_FIXTURES),
}, async () => {
  const checks = await modelChecks(OPENAI_FIXTURES);
  const failed = checks.filter((c) => !c.passed);
  assert.deepEqual(
    failed.map((c) => `${c.name}: ${c.detail} maxAbs=${c.maxAbs}`),
    [],
  );
  // 4 checkpoint files; each has features, logits and activation checks.
  for (const file of ['vit-tiny.jit.pt', 'vit-tiny.safetensors', 'rn-tiny.jit.pt', 'rn-tiny.legacy.pt']) {
    assert.ok(checks.filter((c) => c.name.startsWith(`${file} `)).length >= 15, `${file} was checked`);
  }
});
