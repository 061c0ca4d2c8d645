// The browser's checkpoint path: checkpoints read from in-memory bytes with the fflate zip reader
// (weights/zip-bytes.ts) give the same state dicts as Node's file reader (yauzl), for zips made
// here and for every fixture model file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StateDict } from '../src/tensor.js';
import { fromFloat32 } from '../src/tensor.js';
import { CheckpointError } from '../src/errors.js';
import { readCheckpoint } from '../src/weights/index.js';
import { readStateDict } from '../src/weights/read.js';
import { writeTorchZip } from '../src/weights/torch-writer.js';
import { openTorchZipBytes } from '../src/weights/zip-bytes.js';
import { CHINESE_FIXTURES, needsFixtures, OPENAI_FIXTURES } from './fixtures.js';

const readBytes = (bytes: Uint8Array) => readStateDict(bytes, openTorchZipBytes);

function assertSame(ours: StateDict, ref: StateDict, label: string): void {
  assert.deepEqual([...ours.keys()], [...ref.keys()], `${label}: names`);
  for (const [name, t] of ref) {
    const o = ours.get(name)!;
    assert.deepEqual({ dtype: o.dtype, shape: o.shape }, { dtype: t.dtype, shape: t.shape }, `${label} ${name}`);
    assert.ok(Buffer.from(o.bytes).equals(Buffer.from(t.bytes)), `${label} ${name}: bytes`);
  }
}

test('a torch zip read from bytes (fflate) equals the file read with yauzl; damage is a CheckpointError', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clip-bytes-'));
  try {
    const sd: StateDict = new Map([
      [
        'a.weight',
        fromFloat32(
          Float32Array.from({ length: 12 }, (_, i) => i / 3),
          [3, 4],
        ),
      ],
      ['b.bias', fromFloat32(Float32Array.of(-1, 2), [2])],
    ]);
    const path = join(dir, 'm.pt');
    await writeTorchZip(path, sd);
    const bytes = readFileSync(path);
    assertSame(await readBytes(bytes), await readCheckpoint(path), 'm.pt');
    await assert.rejects(
      readBytes(bytes.subarray(0, bytes.length - 30)),
      (e) => e instanceof CheckpointError && /zip/.test(e.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every fixture checkpoint (TorchScript, torch zip, legacy, safetensors) reads the same from bytes', {
  skip: needsFixtures(OPENAI_FIXTURES) || needsFixtures(CHINESE_FIXTURES),
}, async () => {
  for (const dir of [join(OPENAI_FIXTURES, 'models'), join(CHINESE_FIXTURES, 'models')]) {
    for (const file of readdirSync(dir).filter((f) => /\.(pt|safetensors)$/.test(f))) {
      assertSame(await readBytes(readFileSync(join(dir, file))), await readCheckpoint(join(dir, file)), file);
    }
  }
});
