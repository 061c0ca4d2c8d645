// The reference preprocessing fixtures: every image at every stored size, exact.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { tmpdir } from 'node:os';
import sharp from 'sharp';
import { CHINESE_FIXTURES, needsFixtures, OPENAI_FIXTURES } from './fixtures.js';
import { fromFloat32 } from '../src/tensor.js';
import { preprocess } from '../src/image/preprocess.js';
import { preprocessChecks } from '../src/parity/preprocess.js';
import { serializeSafetensors } from '../src/weights/safetensors.js';

for (const [label, dir, expected] of [
  ['openai-clip', OPENAI_FIXTURES, 63],
  ['chinese-clip', CHINESE_FIXTURES, 24],
] as const) {
  test(`preprocess parity: ${label}`, { skip: needsFixtures(dir) }, async () => {
    const checks = await preprocessChecks(dir);
    const failed = checks.filter((c) => !c.passed).map((c) => `${c.name}: ${c.detail}`);
    assert.deepEqual(failed, []);
    assert.equal(checks.length, expected);
    assert.ok(checks.every((c) => c.group === 'preprocess' && c.maxAbs === 0));
  });
}

// Fixture-free sibling: the checker itself, on a tiny folder in the openai-clip layout whose
// reference is our own output, then with one value changed (must fail) and one folder without
// fixtures (must say so).

test('preprocessChecks passes on a matching reference and fails on a changed one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clip-parity-test-'));
  mkdirSync(join(dir, 'images'));
  mkdirSync(join(dir, 'preprocess'));
  const png = await sharp(Buffer.from(Uint8Array.from({ length: 12 * 9 * 3 }, (_, i) => (i * 11) % 256)), {
    raw: { width: 12, height: 9, channels: 3 },
  })
    .png()
    .toBuffer();
  writeFileSync(join(dir, 'images', 'a.png'), png);
  writeFileSync(
    join(dir, 'preprocess', 'index.json'),
    JSON.stringify({ sizes: [8], images: [{ name: 'a.png', path: 'images/a.png' }] }),
  );
  const ours = (await preprocess(png, { size: 8 })).data;
  const write = (data: Float32Array) =>
    writeFileSync(
      join(dir, 'preprocess', '8.safetensors'),
      serializeSafetensors(new Map([['a.png', fromFloat32(data, [3, 8, 8])]])),
    );

  write(ours);
  const [good] = await preprocessChecks(dir);
  assert.equal(good!.passed, true);
  assert.equal(good!.name, 'a.png @8');

  const changed = ours.slice();
  changed[5]! += 1e-3;
  write(changed);
  const [bad] = await preprocessChecks(dir);
  assert.equal(bad!.passed, false);
  assert.ok(Math.abs(bad!.maxAbs! - 1e-3) < 1e-6);

  await assert.rejects(preprocessChecks(join(dir, 'images')), /no preprocessing fixtures/);
});
