// Checkpoint readers on files made here: writer → reader round trips for every format, strided
// and offset views of shared storages, TorchScript module trees, training wrappers, and the
// errors for broken or foreign files. Fixture-free sibling of weights-fixtures.test.ts.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yazl from 'yazl';
import { CheckpointError, UnsafePickleError } from '../src/errors.js';
import { floatToHalf, type DType, type RawTensor, type StateDict } from '../src/tensor.js';
import { readCheckpoint, readCheckpointObject, detectFormat } from '../src/weights/index.js';
import { PersistentId, pickle, PyCall, PyGlobal, PyObject, type PickleValue } from '../src/weights/pickle-writer.js';
import { writeSafetensors } from '../src/weights/safetensors.js';
import { ScriptObject } from '../src/weights/pickle.js';
import {
  legacyBytes,
  orderedDictValue,
  serializeLegacy,
  tensorValue,
  writeTorchZip,
  writeTorchZipEntries,
  type StorageSpec,
} from '../src/weights/torch-writer.js';

const dir = mkdtempSync(join(tmpdir(), 'clip-weights-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let fileCount = 0;
const tmp = (name: string): string => join(dir, `${fileCount++}-${name}`);

const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const f32 = (values: number[]): Uint8Array => bytesOf(Float32Array.from(values));
const tensor = (dtype: DType, shape: number[], bytes: Uint8Array): RawTensor => ({ dtype, shape, bytes });
const floatsOf = (t: RawTensor): number[] => [...new Float32Array(new Uint8Array(t.bytes).buffer)];

/** One tensor of every dtype a CLIP checkpoint holds, with values that expose byte-order mistakes. */
function sampleStateDict(): StateDict {
  return new Map<string, RawTensor>([
    ['visual.conv1.weight', tensor('float32', [2, 3], f32([1.5, -2, 3.25, 1e-30, -0, 65504]))],
    ['visual.proj', tensor('float16', [2, 2], bytesOf(Uint16Array.from([1.5, -0.25, 2048, 1e-5].map(floatToHalf))))],
    ['ln.weight', tensor('bfloat16', [3], bytesOf(Uint16Array.from([0x3fc0, 0xbf80, 0x7f80])))], // 1.5, -1, +inf
    ['bn.num_batches_tracked', tensor('int64', [], bytesOf(BigInt64Array.from([2n ** 40n + 3n])))],
    // not exact as doubles
    ['big.int64', tensor('int64', [2], bytesOf(BigInt64Array.from([2n ** 62n + 1n, -(2n ** 53n) - 1n])))],
    ['mask', tensor('bool', [3], Uint8Array.from([1, 0, 1]))],
    ['logit_scale', tensor('float32', [], f32([2.6592600345611572]))],
    ['empty', tensor('float32', [0, 4], new Uint8Array(0))],
  ]);
}

function assertSameStateDict(actual: StateDict, expected: StateDict): void {
  assert.deepEqual([...actual.keys()], [...expected.keys()]);
  for (const [name, t] of expected) {
    const a = actual.get(name)!;
    assert.equal(a.dtype, t.dtype, name);
    assert.deepEqual(a.shape, t.shape, name);
    assert.deepEqual(Buffer.from(a.bytes), Buffer.from(t.bytes), name);
  }
}

async function writeZip(path: string, entries: [string, Uint8Array][]): Promise<void> {
  const zip = new yazl.ZipFile();
  for (const [name, data] of entries) zip.addBuffer(Buffer.from(data), name, { compress: name.endsWith('.py') });
  zip.end();
  const out = createWriteStream(path);
  zip.outputStream.pipe(out);
  await once(out, 'close');
}

const spec = (key: string, dtype: DType, numel: number): StorageSpec => ({ key, dtype, numel });

test('torch.save zip round trip: fp32, fp16, bf16, int64 (beyond 2^53), bool, 0-dim and empty tensors', async () => {
  const sd = sampleStateDict();
  const path = tmp('roundtrip.pt');
  await writeTorchZip(path, sd);
  assertSameStateDict(await readCheckpoint(path), sd);
  assertSameStateDict(await readCheckpoint(readFileSync(path)), sd); // from bytes in memory
});

test('legacy (pre-1.6) round trip, from a path and from bytes', async () => {
  const sd = sampleStateDict();
  const bytes = serializeLegacy(sd);
  assert.equal(detectFormat(bytes), 'torch-legacy');
  const path = tmp('legacy.pt');
  writeFileSync(path, bytes);
  assertSameStateDict(await readCheckpoint(path), sd);
  assertSameStateDict(await readCheckpoint(bytes), sd);
});

test('safetensors through readCheckpoint', async () => {
  const sd = sampleStateDict();
  sd.delete('empty');
  const path = tmp('w.safetensors');
  writeSafetensors(path, sd);
  const back = await readCheckpoint(path);
  // The safetensors writer orders tensors by item size, so compare by name.
  assertSameStateDict(new Map([...sd.keys()].map((k) => [k, back.get(k)!])), sd);
});

test('strided views and storage offsets: tensors sharing one storage are rebuilt contiguous', async () => {
  // Storage "0": the 2×3 matrix [[0,1,2],[3,4,5]]. Its transpose is the view with shape [3,2] and
  // strides [1,3]: element (i,j) = s[i + 3j], i.e. [[0,3],[1,4],[2,5]].
  // Storage "1": 0..23. "second" starts at offset 4 with shape [2,3] (elements 4..9); "odd" takes
  // every other element from offset 1 (stride 2); "scalar" is element 7; "permuted" is the
  // [2,3,4] block at offset 0 permuted to dims (2,0,1): shape [4,2,3], strides [1,12,4], so
  // element (a,b,c) = s[a + 12b + 4c].
  const s0 = spec('0', 'float32', 6);
  const s1 = spec('1', 'float32', 24);
  const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
  const object = orderedDictValue([
    ['transposed', tensorValue(s0, 0, [3, 2], [1, 3])],
    ['matrix', tensorValue(s0, 0, [2, 3], [3, 1])],
    ['second', tensorValue(s1, 4, [2, 3], [3, 1])],
    ['odd', tensorValue(s1, 1, [3], [2])],
    ['scalar', tensorValue(s1, 7, [], [])],
    ['broadcast', tensorValue(s1, 2, [2, 2], [0, 1])], // expand(): stride 0 repeats a row
    ['permuted', tensorValue(s1, 0, [4, 2, 3], [1, 12, 4])],
  ]);
  const path = tmp('views.pt');
  await writeTorchZipEntries(path, pickle(object), [
    { key: '0', bytes: f32(range(6)) },
    { key: '1', bytes: f32(range(24)) },
  ]);
  const sd = await readCheckpoint(path);
  assert.deepEqual(floatsOf(sd.get('transposed')!), [0, 3, 1, 4, 2, 5]);
  assert.deepEqual(floatsOf(sd.get('matrix')!), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(floatsOf(sd.get('second')!), [4, 5, 6, 7, 8, 9]);
  assert.deepEqual(floatsOf(sd.get('odd')!), [1, 3, 5]);
  assert.deepEqual(floatsOf(sd.get('scalar')!), [7]);
  assert.deepEqual(floatsOf(sd.get('broadcast')!), [2, 3, 2, 3]);
  const expected: number[] = [];
  for (let a = 0; a < 4; a++) for (let b = 0; b < 2; b++) for (let c = 0; c < 3; c++) expected.push(a + 12 * b + 4 * c);
  assert.deepEqual(floatsOf(sd.get('permuted')!), expected);
  assert.deepEqual(sd.get('permuted')!.shape, [4, 2, 3]);
});

test('fp16 strided view: elements of 2 bytes are gathered whole', async () => {
  const halves = Uint16Array.from([1, 2, 3, 4, 5, 6].map(floatToHalf));
  const path = tmp('half-view.pt');
  await writeTorchZipEntries(
    path,
    pickle(orderedDictValue([['t', tensorValue(spec('k', 'float16', 6), 0, [3, 2], [1, 3])]])),
    [{ key: 'k', bytes: bytesOf(halves) }],
  );
  const t = (await readCheckpoint(path)).get('t')!;
  assert.deepEqual([...new Uint16Array(new Uint8Array(t.bytes).buffer)], [1, 4, 2, 5, 3, 6].map(floatToHalf));
});

test('legacy storage views: the sixth persistent-id field selects elements of the root storage', async () => {
  // Root storage "r" holds 0..7; the view "v" is elements [2, 6) of it; the tensor starts at
  // element 1 of the view with shape [2]: root elements 3 and 4.
  const viewed: StorageSpec = { key: 'r', dtype: 'float32', numel: 8, legacyView: ['v', 2, 4] };
  const plain: StorageSpec = { key: 'r', dtype: 'float32', numel: 8, legacyView: null };
  const object = orderedDictValue([
    ['view', tensorValue(viewed, 1, [2], [1])],
    ['all', tensorValue(plain, 0, [8], [1])],
  ]);
  const sd = await readCheckpoint(
    legacyBytes(object, [{ key: 'r', dtype: 'float32', bytes: f32([0, 1, 2, 3, 4, 5, 6, 7]) }]),
  );
  assert.deepEqual(floatsOf(sd.get('view')!), [3, 4]);
  assert.deepEqual(floatsOf(sd.get('all')!), [0, 1, 2, 3, 4, 5, 6, 7]);
});

test('TorchScript archive: module tree → attribute paths, own tensors before submodules; rest ignored', async () => {
  const w = (key: string, values: number[]): PickleValue =>
    tensorValue(spec(key, 'float32', values.length), 0, [values.length], [1]);
  const module = (cls: string, attributes: [string, PickleValue][]): PickleValue =>
    new PyObject(new PyGlobal('__torch__.clip.model', cls), new Map(attributes));
  const root = module('CLIP', [
    ['training', false],
    [
      'visual',
      module('VisionTransformer', [
        ['training', false],
        [
          'conv1',
          module('___torch_mangle_3.Conv2d', [
            ['weight', w('1', [1, 2])],
            ['bias', null],
            ['training', false],
          ]),
        ],
      ]),
    ],
    ['positional_embedding', w('0', [5])],
    ['input_resolution', tensorValue(spec('2', 'int64', 1), 0, [], [])],
    ['output_dim', 64],
  ]);
  const path = tmp('model.jit.pt');
  // torch.jit.save names the folder after the file; constants.pkl would be refused if it were read.
  const evil = pickle(new PyCall(new PyGlobal('os', 'system'), ['id']));
  await writeZip(path, [
    ['model.jit/data.pkl', pickle(root)],
    ['model.jit/constants.pkl', evil],
    ['model.jit/version', Buffer.from('4\n')],
    ['model.jit/code/__torch__/clip/model.py', Buffer.from('class CLIP: pass\n')],
    ['model.jit/data/0', f32([5])],
    ['model.jit/data/1', f32([1, 2])],
    ['model.jit/data/2', bytesOf(BigInt64Array.from([224n]))],
  ]);
  const sd = await readCheckpoint(path);
  assert.deepEqual([...sd.keys()], ['positional_embedding', 'input_resolution', 'visual.conv1.weight']);
  assert.deepEqual(floatsOf(sd.get('visual.conv1.weight')!), [1, 2]);
  const object = await readCheckpointObject(path);
  assert.ok(object instanceof ScriptObject);
  assert.equal((object.state as Map<string, unknown>).get('output_dim'), 64);
});

test('training wrapper {epoch, step, name, state_dict}: module. prefix stripped, optimizer never read', async () => {
  const object = new Map<string, PickleValue>([
    ['epoch', 3],
    ['step', 1234],
    ['name', 'run'],
    [
      'state_dict',
      orderedDictValue([
        ['module.a', tensorValue(spec('0', 'float32', 1), 0, [], [])],
        ['module.b.weight', tensorValue(spec('1', 'float32', 2), 0, [2], [1])],
      ]),
    ],
    // Its storage "9" is absent from the archive: reading it would fail.
    [
      'optimizer',
      new Map([['state', orderedDictValue([['exp_avg', tensorValue(spec('9', 'float32', 2), 0, [2], [1])]])]]),
    ],
  ]);
  const path = tmp('wrapped.pt');
  await writeTorchZipEntries(path, pickle(object), [
    { key: '0', bytes: f32([7]) },
    { key: '1', bytes: f32([8, 9]) },
  ]);
  const sd = await readCheckpoint(path);
  assert.deepEqual([...sd.keys()], ['a', 'b.weight']);
  assert.deepEqual(floatsOf(sd.get('b.weight')!), [8, 9]);
});

test('a prefix shared by only some keys is kept', async () => {
  const path = tmp('mixed.pt');
  const object = orderedDictValue([
    ['module.a', tensorValue(spec('0', 'float32', 1), 0, [], [])],
    ['b', tensorValue(spec('0', 'float32', 1), 0, [], [])],
  ]);
  await writeTorchZipEntries(path, pickle(object), [{ key: '0', bytes: f32([1]) }]);
  assert.deepEqual([...(await readCheckpoint(path)).keys()], ['module.a', 'b']);
});

async function rejects(
  input: string | Uint8Array,
  type: typeof CheckpointError | typeof UnsafePickleError,
  pattern: RegExp,
): Promise<void> {
  await assert.rejects(readCheckpoint(input), (e: Error) => {
    assert.ok(e instanceof type, `expected ${type.name}, got ${e.name}: ${e.message}`);
    assert.match(e.message, pattern);
    if (typeof input === 'string') assert.ok(e.message.includes(input), `message names the file: ${e.message}`);
    return true;
  });
}

test('truncated files of every format are CheckpointErrors naming the file', async () => {
  const sd = sampleStateDict();
  const zip = tmp('cut.pt');
  await writeTorchZip(zip, sd);
  truncateSync(zip, Math.floor(readFileSync(zip).length / 2));
  await rejects(zip, CheckpointError, /not a readable zip archive.*truncated/);

  const legacy = tmp('cut-legacy.pt');
  const full = serializeLegacy(sd);
  writeFileSync(legacy, full.subarray(0, full.length - 5));
  await rejects(legacy, CheckpointError, /truncated/);
  writeFileSync(legacy, full.subarray(0, 40)); // inside the pickles
  await rejects(legacy, CheckpointError, /pickle is truncated/);

  const st = tmp('cut.safetensors');
  sd.delete('empty');
  writeSafetensors(st, sd);
  truncateSync(st, readFileSync(st).length - 3);
  await rejects(st, CheckpointError, /truncated/);
});

test('files that are not checkpoints', async () => {
  const png = tmp('image.png');
  writeFileSync(png, Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'));
  await rejects(png, CheckpointError, /is not a checkpoint.*starts with bytes 89 50 4e 47/);
  const text = tmp('notes.txt');
  writeFileSync(text, 'just some text\n');
  await rejects(text, CheckpointError, /is not a checkpoint/);
  const empty = tmp('empty.pt');
  writeFileSync(empty, '');
  await rejects(empty, CheckpointError, /is empty/);
  await rejects(join(dir, 'does-not-exist.pt'), CheckpointError, /cannot open/);
  const folder = tmp('folder.pt');
  mkdirSync(folder);
  await rejects(folder, CheckpointError, /not a regular file/);
});

test('a zip without data.pkl is not a torch checkpoint', async () => {
  const path = tmp('plain.zip');
  await writeZip(path, [['readme.txt', Buffer.from('hello')]]);
  await rejects(path, CheckpointError, /no data\.pkl.*readme\.txt/);
});

test('missing or short storage entries, out-of-range views, unsupported dtypes, no state dict', async () => {
  const missing = tmp('missing.pt');
  await writeTorchZipEntries(
    missing,
    pickle(orderedDictValue([['w', tensorValue(spec('7', 'float32', 2), 0, [2], [1])]])),
    [],
  );
  await rejects(missing, CheckpointError, /storage entry "archive\/data\/7" is missing/);

  const short = tmp('short.pt');
  await writeTorchZipEntries(
    short,
    pickle(orderedDictValue([['w', tensorValue(spec('0', 'float32', 4), 0, [4], [1])]])),
    [{ key: '0', bytes: f32([1, 2]) }],
  );
  await rejects(short, CheckpointError, /holds 8 bytes, expected 16/);

  const outside = tmp('outside.pt');
  await writeTorchZipEntries(
    outside,
    pickle(orderedDictValue([['w', tensorValue(spec('0', 'float32', 2), 1, [2], [1])]])),
    [{ key: '0', bytes: f32([1, 2]) }],
  );
  await rejects(outside, CheckpointError, /tensor "w" .* reaches element 2 of a 2-element storage/);

  const complex = tmp('complex.pt');
  const pid = new PersistentId(['storage', new PyGlobal('torch', 'ComplexFloatStorage'), '0', 'cpu', 1]);
  const rebuild = new PyCall(new PyGlobal('torch._utils', '_rebuild_tensor_v2'), [pid, 0, [1], [1], false, null]);
  await writeTorchZipEntries(complex, pickle(orderedDictValue([['w', rebuild]])), [
    { key: '0', bytes: new Uint8Array(8) },
  ]);
  await rejects(complex, CheckpointError, /unsupported storage dtype "torch\.ComplexFloatStorage"/);

  const noState = tmp('nostate.pt');
  await writeTorchZipEntries(
    noState,
    pickle(
      new Map<string, PickleValue>([
        ['epoch', 1],
        ['args', 'x'],
      ]),
    ),
    [],
  );
  await rejects(noState, CheckpointError, /holds no state dict.*found a dict with keys \[epoch, args\]/);
});

test('a hostile data.pkl inside a torch zip is refused, naming the global', async () => {
  const path = tmp('evil.pt');
  await writeTorchZipEntries(path, pickle(new PyCall(new PyGlobal('os', 'system'), ['touch /tmp/pwned'])), []);
  await rejects(path, UnsafePickleError, /refused global "os\.system"/);
});

test('corrupted checkpoints fail only with CheckpointError/UnsafePickleError, never crash or hang', async () => {
  const zipPath = tmp('fuzz.pt');
  await writeTorchZip(zipPath, sampleStateDict());
  const originals = { zip: readFileSync(zipPath), legacy: serializeLegacy(sampleStateDict()) };
  let seed = 12345; // a fixed linear congruential generator keeps the test reproducible
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return Math.floor((seed / 2 ** 31) * n);
  };
  for (const original of Object.values(originals)) {
    for (let i = 0; i < 300; i++) {
      const corrupt = Uint8Array.from(original);
      for (let j = 0; j <= random(4); j++) corrupt[random(corrupt.length)] = random(256);
      const input = random(5) === 0 ? corrupt.subarray(0, random(corrupt.length)) : corrupt;
      try {
        await readCheckpoint(input);
      } catch (e) {
        assert.ok(
          e instanceof CheckpointError || e instanceof UnsafePickleError,
          `unexpected ${(e as Error).name}: ${(e as Error).message}`,
        );
        assert.doesNotMatch((e as Error).message, /cannot be read \(/, 'an unexpected error was wrapped');
      }
    }
  }
});
