// One training step of vit-tiny and rn-tiny against the reference (train/<model>.safetensors):
// loss, every gradient, BatchNorm buffers, the AdamW update and the logit_scale clamp, and AdamW
// alone on the reference gradients. The comparisons and tolerances live in src/parity/train.ts
// (the `train` group of `npm run parity`); here each of its checks is one subtest.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { trainChecks } from '../src/parity/train.js';
import { fromFloat32, toFloat32 } from '../src/tensor.js';
import { readSafetensors, writeSafetensors } from '../src/weights/safetensors.js';
import { needsFixtures, OPENAI_FIXTURES } from './fixtures.js';

test('one training step of every model in train/ matches the reference', {
  skip: needsFixtures(OPENAI_FIXTURES),
}, async (t) => {
  const checks = await trainChecks(OPENAI_FIXTURES);
  for (const model of ['vit-tiny', 'rn-tiny']) {
    for (const kind of ['loss', 'gradients', 'weights after the AdamW step', 'AdamW on the reference gradients']) {
      assert.ok(
        checks.some((c) => c.name === `${model} ${kind}`),
        `${model} ${kind} is checked`,
      );
    }
  }
  assert.ok(checks.some((c) => c.name === 'rn-tiny BatchNorm buffers after the forward pass'));
  for (const c of checks) await t.test(c.name, () => assert.ok(c.passed, `${c.name}: ${c.detail}`));
});

test("a reference gradient moved by 1e-3 of its tensor's largest entry fails the gradients check", {
  skip: needsFixtures(OPENAI_FIXTURES),
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clip-train-parity-'));
  try {
    symlinkSync(join(OPENAI_FIXTURES, 'models'), join(dir, 'models'));
    mkdirSync(join(dir, 'train'));
    const { tensors, metadata } = readSafetensors(join(OPENAI_FIXTURES, 'train', 'vit-tiny.safetensors'));
    const key = 'grad.visual.proj';
    const grad = toFloat32(tensors.get(key)!).slice();
    grad[0]! += 1e-3 * Math.max(...grad.map(Math.abs));
    tensors.set(key, fromFloat32(grad, tensors.get(key)!.shape));
    writeSafetensors(join(dir, 'train', 'vit-tiny.safetensors'), tensors, metadata);
    const checks = await trainChecks(dir);
    const gradients = checks.find((c) => c.name === 'vit-tiny gradients')!;
    assert.equal(gradients.passed, false);
    assert.match(gradients.detail!, /grad\.visual\.proj\[0\]/);
    assert.ok(
      checks.find((c) => c.name === 'vit-tiny loss')!.passed,
      'the loss does not depend on the stored gradient',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('folders without train/ give no train checks; a reference without weights is a failed check', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clip-train-parity-'));
  try {
    assert.deepEqual(await trainChecks(dir), []);
    mkdirSync(join(dir, 'train'));
    writeSafetensors(join(dir, 'train', 'nothing.safetensors'), new Map());
    const [check, ...rest] = await trainChecks(dir);
    assert.equal(rest.length, 0);
    assert.equal(check!.passed, false);
    assert.match(check!.detail!, /no nothing\.\* weights/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
