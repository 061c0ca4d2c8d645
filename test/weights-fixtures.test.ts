// Checkpoint readers on the reference fixtures: every model file loads, its table of names,
// dtypes and shapes is the manifest's, all formats of one model hold bitwise-identical tensors,
// and int64 values above 2^32 survive. Self-contained sibling: weights-torch.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toFloat32, type StateDict } from '../src/tensor.js';
import { readCheckpoint, readCheckpointObject } from '../src/weights/index.js';
import { readSafetensors } from '../src/weights/safetensors.js';
import { CHINESE_FIXTURES, needsFixtures, OPENAI_FIXTURES } from './fixtures.js';

interface TableEntry {
  name: string;
  dtype: string;
  shape: number[];
}

/** The manifest is Python's json.dump output, which writes NaN for unmeasured values. */
function readPythonJson(path: string): any {
  return JSON.parse(readFileSync(path, 'utf8').replace(/([:[,]\s*)-?(NaN|Infinity)(?=\s*[,\]}])/g, '$1null'));
}

function table(stateDict: StateDict): TableEntry[] {
  return [...stateDict].map(([name, t]) => ({ name, dtype: t.dtype, shape: [...t.shape] }));
}

/** The TorchScript archives also hold the three 0-dim int64 buffers the reference's build_model deletes. */
const JIT_EXTRA_BUFFERS = ['input_resolution', 'context_length', 'vocab_size'];

const skipOpenai = needsFixtures(OPENAI_FIXTURES);
const skipChinese = needsFixtures(CHINESE_FIXTURES);

test('every OpenAI fixture model file loads with the manifest table of names, dtypes and shapes', {
  skip: skipOpenai,
}, async () => {
  const manifest = readPythonJson(join(OPENAI_FIXTURES, 'manifest.json'));
  const files = readdirSync(join(OPENAI_FIXTURES, 'models'));
  assert.ok(files.length >= 4);
  for (const file of files) {
    const model = file.split('.')[0]!;
    const expected: TableEntry[] = manifest.models[model].state_dict;
    const sd = await readCheckpoint(join(OPENAI_FIXTURES, 'models', file));
    if (file.endsWith('.jit.pt')) {
      for (const name of JIT_EXTRA_BUFFERS) {
        assert.deepEqual(
          { dtype: sd.get(name)?.dtype, shape: sd.get(name)?.shape },
          { dtype: 'int64', shape: [] },
          `${file}: ${name}`,
        );
        sd.delete(name);
      }
    }
    const actual = table(sd);
    // safetensors files keep their own (by item size) order; the pickled formats keep state_dict order.
    if (file.endsWith('.safetensors'))
      actual.sort(
        (a, b) => expected.findIndex((e) => e.name === a.name) - expected.findIndex((e) => e.name === b.name),
      );
    assert.deepEqual(actual, expected, file);
  }
});

test('the TorchScript archives carry the model hyper-parameters as int64 buffers', { skip: skipOpenai }, async () => {
  const manifest = readPythonJson(join(OPENAI_FIXTURES, 'manifest.json'));
  for (const model of ['vit-tiny', 'rn-tiny']) {
    const sd = await readCheckpoint(join(OPENAI_FIXTURES, 'models', `${model}.jit.pt`));
    const value = (name: string): bigint => new BigInt64Array(new Uint8Array(sd.get(name)!.bytes).buffer)[0]!;
    assert.equal(value('input_resolution'), BigInt(manifest.models[model].config.image_resolution));
    assert.equal(value('context_length'), 77n);
    assert.equal(value('vocab_size'), 49408n);
  }
});

function assertBitwiseEqualFloat32(a: StateDict, b: StateDict, label: string): void {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort(), label);
  for (const [name, t] of a) {
    const u = b.get(name)!;
    assert.equal(t.dtype, u.dtype, `${label}: ${name}`);
    if (t.dtype === 'int64') assert.deepEqual(Buffer.from(t.bytes), Buffer.from(u.bytes), `${label}: ${name}`);
    else assert.deepEqual(Buffer.from(toFloat32(t).buffer), Buffer.from(toFloat32(u).buffer), `${label}: ${name}`);
  }
}

test('the formats of one model hold bitwise-identical tensors (vit-tiny: jit vs safetensors; rn-tiny: jit vs legacy)', {
  skip: skipOpenai,
}, async () => {
  const models = join(OPENAI_FIXTURES, 'models');
  const vitJit = await readCheckpoint(join(models, 'vit-tiny.jit.pt'));
  for (const name of JIT_EXTRA_BUFFERS) vitJit.delete(name);
  assertBitwiseEqualFloat32(vitJit, await readCheckpoint(join(models, 'vit-tiny.safetensors')), 'vit-tiny');
  const rnJit = await readCheckpoint(join(models, 'rn-tiny.jit.pt'));
  for (const name of JIT_EXTRA_BUFFERS) rnJit.delete(name);
  assertBitwiseEqualFloat32(rnJit, await readCheckpoint(join(models, 'rn-tiny.legacy.pt')), 'rn-tiny');
});

test('int64 num_batches_tracked above 2^32 survive exactly (train fixture: value after one step = before + 1)', {
  skip: skipOpenai,
}, async () => {
  const after = readSafetensors(join(OPENAI_FIXTURES, 'train', 'rn-tiny.safetensors')).tensors;
  for (const file of ['rn-tiny.jit.pt', 'rn-tiny.legacy.pt']) {
    const sd = await readCheckpoint(join(OPENAI_FIXTURES, 'models', file));
    const counters = [...sd.keys()].filter((k) => k.endsWith('num_batches_tracked'));
    assert.ok(counters.length > 0);
    let above32 = 0;
    for (const name of counters) {
      const before = new BigInt64Array(new Uint8Array(sd.get(name)!.bytes).buffer)[0]!;
      const stepped = new BigInt64Array(new Uint8Array(after.get(`buffers_after.${name}`)!.bytes).buffer)[0]!;
      assert.equal(before + 1n, stepped, `${file}: ${name}`);
      if (before > 2n ** 32n) above32++;
    }
    assert.ok(above32 > 0, 'some counters exceed 2^32');
  }
});

test('Chinese-CLIP training checkpoints: module. prefix stripped, table and wrapper values as documented', {
  skip: skipChinese,
}, async () => {
  const files = readdirSync(join(CHINESE_FIXTURES, 'models')).filter((f) => f.endsWith('.pt'));
  assert.deepEqual(files.sort(), ['rn-tiny.pt', 'vit-tiny.pt']);
  const wrapper: Record<string, [number, number]> = { 'vit-tiny': [3, 1234], 'rn-tiny': [5, 4321] };
  for (const file of files) {
    const model = file.replace(/\.pt$/, '');
    const path = join(CHINESE_FIXTURES, 'models', file);
    const description = JSON.parse(readFileSync(join(CHINESE_FIXTURES, 'models', `${model}.checkpoint.json`), 'utf8'));
    const expected = Object.entries(
      description.state_dict_shapes as Record<string, { dtype: string; shape: number[] }>,
    ).map(([name, { dtype, shape }]) => ({ name: name.replace(/^module\./, ''), dtype, shape }));
    assert.ok(Object.keys(description.state_dict_shapes).every((k) => k.startsWith('module.')));
    assert.deepEqual(table(await readCheckpoint(path)), expected, file);

    const object = (await readCheckpointObject(path)) as Map<string, unknown>;
    assert.deepEqual(
      [object.get('epoch'), object.get('step'), object.get('name')],
      [...wrapper[model]!, `cn_fixture_${model}`],
    );
  }
});
