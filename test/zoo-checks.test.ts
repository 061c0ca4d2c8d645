// Format checks for files without a published checksum: each accepts a sound file and rejects
// the truncated or wrong files a failed download produces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkFile } from '../src/zoo/checks.js';
import { serializeSafetensors } from '../src/weights/safetensors.js';
import { fromFloat32 } from '../src/tensor.js';
import type { FileCheck } from '../src/zoo/models.js';

const dir = mkdtempSync(join(tmpdir(), 'clip-checks-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

async function check(bytes: Uint8Array | string, kind: FileCheck): Promise<string | undefined> {
  const path = join(dir, `f${Math.random()}`);
  writeFileSync(path, bytes);
  return checkFile(path, kind);
}

test('safetensors: whole file passes, a truncated one or HTML does not', async () => {
  const bytes = serializeSafetensors(
    new Map([
      ['a', fromFloat32(new Float32Array([1, 2, 3]), [3])],
      ['b', fromFloat32(new Float32Array([4, 5]), [2])],
    ]),
  );
  assert.equal(await check(bytes, 'safetensors'), undefined);
  assert.match((await check(bytes.subarray(0, bytes.length - 1), 'safetensors'))!, /need \d+ bytes but the file has/);
  assert.match((await check('<html><body>rate limited</body></html>', 'safetensors'))!, /header claims/);
});

test('torch zip: needs the local-header signature and the end-of-central-directory record', async () => {
  // The shape of a zip: "PK\3\4" local header first, "PK\5\6" record (22 bytes) last.
  const zip = Buffer.concat([
    Buffer.from('PK\x03\x04'),
    Buffer.alloc(100),
    Buffer.from('PK\x05\x06'),
    Buffer.alloc(18),
  ]);
  assert.equal(await check(zip, 'torch-zip'), undefined);
  assert.match((await check(zip.subarray(0, 90), 'torch-zip'))!, /truncated/);
  assert.match((await check('<html>', 'torch-zip'))!, /not a zip/);
});

test('json and merges files', async () => {
  assert.equal(await check('{"a": 1}', 'json'), undefined);
  assert.match((await check('{"a": ', 'json'))!, /not valid JSON/);
  assert.equal(await check('#version: 0.2\ni n\nt h\n', 'bpe-merges'), undefined);
  assert.match((await check('<html>', 'bpe-merges'))!, /#version/);
});
