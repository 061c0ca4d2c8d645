// Hostile checkpoints end in a CheckpointError quickly and in bounded memory: decompression bombs
// (a few MB of zip inflating to GBs), pickles that build millions of values or giant integers, and
// safetensors files the format forbids. Peak memory is measured in a child process (maxRSS).
// CLIP_FUZZ_LONG=1 makes the bombs 2 GiB, as in the issue (default 512 MiB, to stay fast).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { inflateRawSync } from 'node:zlib';
import { CheckpointError } from '../src/errors.js';
import { pickle } from '../src/weights/pickle-writer.js';
import { parseSafetensors, serializeSafetensors } from '../src/weights/safetensors.js';
import { orderedDictValue, tensorValue } from '../src/weights/torch-writer.js';

const WEIGHTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'weights', 'index.js');
const BROWSER_READER = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'weights', 'zip-bytes.js');
const STATE_DICT = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'weights', 'read.js');
const execFileAsync = promisify(execFile);
const BOMB_BYTES = process.env.CLIP_FUZZ_LONG ? 2 ** 31 : 2 ** 29;
const dir = mkdtempSync(join(tmpdir(), 'clip-hostile-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A raw deflate stream of `total` zeros, written directly (zlib takes seconds per GiB): one
 * fixed-Huffman block of a literal 0, copies of 258 bytes at distance 1 (13 bits each), literal
 * zeros for the rest, end of block.
 */
function deflatedZeros(total: number): Buffer {
  const copies = Math.floor((total - 1) / 258);
  const literals = 1 + ((total - 1) % 258);
  const out = Buffer.alloc(Math.ceil((3 + 8 * literals + 13 * copies + 7) / 8));
  let bit = 0;
  const put = (value: number, n: number) => {
    // LSB first
    for (let i = 0; i < n; i++, bit++) if ((value >> i) & 1) out[bit >> 3]! |= 1 << (bit & 7);
  };
  const code = (value: number, n: number) => {
    // Huffman codes go MSB first
    for (let i = n - 1; i >= 0; i--, bit++) if ((value >> i) & 1) out[bit >> 3]! |= 1 << (bit & 7);
  };
  put(1, 1); // last block
  put(1, 2); // fixed Huffman codes
  for (let i = 0; i < literals; i++) code(0x30, 8); // literal 0
  for (let i = 0; i < copies; i++) {
    code(0b11000101, 8);
    code(0, 5);
  } // length 258, distance 1
  code(0, 7); // end of block
  return out;
}

interface ZipEntry {
  name: string;
  data: Uint8Array;
  method: 0 | 8;
  uncompressedSize: number;
}

/** A little-endian record of `size` bytes: [offset, byte width (2 or 4), value] for each non-zero field. */
function record(size: number, fields: [number, 2 | 4, number][]): Buffer {
  const out = Buffer.alloc(size);
  for (const [at, width, value] of fields) {
    if (width === 2) out.writeUInt16LE(value, at);
    else out.writeUInt32LE(value, at);
  }
  return out;
}

/** A zip written field by field, so an entry can carry pre-deflated data (and any declared size). */
function zipFile(entries: readonly ZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const { name, data, method, uncompressedSize } of entries) {
    const fileName = Buffer.from(name);
    const sizes: [number, 2 | 4, number][] = [
      [0, 2, method],
      [10, 4, data.length],
      [14, 4, uncompressedSize],
      [18, 2, fileName.length],
    ];
    // The local header and the central directory entry share these fields, 8 and 12 bytes in.
    locals.push(
      record(30, [
        [0, 4, 0x04034b50],
        [4, 2, 20],
        ...sizes.map(([at, w, v]) => [at + 8, w, v] as [number, 2 | 4, number]),
      ]),
      fileName,
      Buffer.from(data),
    );
    centrals.push(
      record(46, [
        [0, 4, 0x02014b50],
        [4, 2, 20],
        [6, 2, 20],
        ...sizes.map(([at, w, v]) => [at + 10, w, v] as [number, 2 | 4, number]),
        [42, 4, offset],
      ]),
      fileName,
    );
    offset += 30 + fileName.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = record(22, [
    [0, 4, 0x06054b50],
    [8, 2, entries.length],
    [10, 2, entries.length],
    [12, 4, directory.length],
    [16, 4, offset],
  ]);
  return Buffer.concat([...locals, directory, end]);
}

const bombData = deflatedZeros(BOMB_BYTES);

/** A torch zip whose state dict has one float tensor of `numel` elements, stored as a deflate bomb. */
function bomb(path: string, numel: number, declaredSize = BOMB_BYTES): void {
  const storage = { key: '0', dtype: 'float32' as const, numel };
  const dataPkl = pickle(orderedDictValue([['w', tensorValue(storage, 0, [numel], [1])]]));
  writeFileSync(
    path,
    zipFile([
      { name: 'archive/data.pkl', data: dataPkl, method: 0, uncompressedSize: dataPkl.length },
      { name: 'archive/data/0', data: bombData, method: 8, uncompressedSize: declaredSize },
    ]),
  );
}

interface ChildResult {
  ok: boolean;
  error?: string;
  name?: string;
  maxRssMb: number;
  ms: number;
}

/**
 * readCheckpoint(path) in a fresh process (or, `inMemory`, the browser's reader on the file's
 * bytes): its outcome, time and peak resident memory.
 */
async function readInChild(path: string, inMemory = false): Promise<ChildResult> {
  const read = inMemory
    ? `const { readStateDict } = await import(${JSON.stringify(STATE_DICT)});
       const { openTorchZipBytes } = await import(${JSON.stringify(BROWSER_READER)});
       const bytes = (await import('node:fs')).readFileSync(${JSON.stringify(path)});
       const run = () => readStateDict(new Uint8Array(bytes), openTorchZipBytes);`
    : `const { readCheckpoint } = await import(${JSON.stringify(WEIGHTS)});
       const run = () => readCheckpoint(${JSON.stringify(path)});`;
  const script = `
    ${read}
    const t = performance.now();
    const result = await run().then(() => ({ ok: true }), (e) => ({ ok: false, error: e.message, name: e.name }));
    const maxRssMb = process.resourceUsage().maxRSS / 1024;
    console.log(JSON.stringify({ ...result, ms: performance.now() - t, maxRssMb }));`;
  const { stdout } = await execFileAsync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return JSON.parse(stdout) as ChildResult;
}

test('the hand-made deflate stream is what it claims', () => {
  assert.deepEqual(inflateRawSync(deflatedZeros(100_000)), Buffer.alloc(100_000));
});

for (const [reader, inMemory, lies] of [
  ['Node (yauzl)', false, /cannot read zip entry "archive\/data\/0" \(too many bytes in the stream/],
  ['browser (bytes)', true, /zip entry "archive\/data\/0" inflates to more than the 16 bytes it declares/],
] as const) {
  test(`${reader}: small storage bomb: only the declared bytes inflate; a lying directory is caught`, async (t) => {
    const honest = join(dir, 'small-storage.pt');
    const lying = join(dir, 'small-storage-lying.pt');
    bomb(honest, 4);
    bomb(lying, 4, 16); // the zip directory claims 16 bytes for the 512 MiB entry
    const results = await Promise.all([readInChild(honest, inMemory), readInChild(lying, inMemory)]);
    assert.ok(results[0]!.ok, results[0]!.error);
    assert.equal(results[1]!.name, 'CheckpointError');
    assert.match(results[1]!.error!, lies);
    for (const r of results) {
      t.diagnostic(`${BOMB_BYTES / 2 ** 20} MiB bomb: ${r.ms.toFixed(0)} ms, peak RSS ${r.maxRssMb.toFixed(0)} MB`);
      assert.ok(r.maxRssMb < 300, `peak RSS ${r.maxRssMb.toFixed(0)} MB`);
      assert.ok(r.ms < 5000, `${r.ms} ms`);
    }
  });

  test(`${reader}: a deflate bomb under a storage that claims all of it: refused before inflating`, async (t) => {
    const path = join(dir, 'big-storage.pt');
    bomb(path, BOMB_BYTES / 4);
    const r = await readInChild(path, inMemory);
    assert.equal(r.ok, false);
    assert.equal(r.name, 'CheckpointError');
    assert.match(r.error!, /would inflate to \d+ bytes.*decompression bomb/);
    t.diagnostic(`refused in ${r.ms.toFixed(0)} ms, peak RSS ${r.maxRssMb.toFixed(0)} MB`);
    assert.ok(r.maxRssMb < 300, `peak RSS ${r.maxRssMb.toFixed(0)} MB`);
  });
}

/** A torch zip with this data.pkl (stored). */
function zipWithPickle(path: string, dataPkl: Uint8Array): void {
  writeFileSync(
    path,
    zipFile([{ name: 'archive/data.pkl', data: dataPkl, method: 0, uncompressedSize: dataPkl.length }]),
  );
}

test('pickles that build millions of values, or giant integers, are refused in bounded memory and time', async (t) => {
  const cases: [string, Uint8Array, RegExp][] = [
    // PROTO 2, then 6 million EMPTY_DICT opcodes.
    ['dicts', Uint8Array.from([0x80, 0x02, ...new Array<number>(6_000_000).fill(0x7d)]), /builds more than \d+ values/],
    // MARK + EMPTY_LIST pairs: a deep stack of lists.
    [
      'marks',
      Uint8Array.from([0x80, 0x02, ...Array.from({ length: 6_000_000 }, (_, i) => (i % 2 ? 0x5d : 0x28))]),
      /builds more than \d+ values/,
    ],
    // LONG4 of 16 MB (parsing it is quadratic).
    [
      'long4',
      (() => {
        const b = new Uint8Array(7 + (1 << 24));
        b.set([0x80, 0x02, 0x8b, 0, 0, 0, 1]);
        return b;
      })(),
      /LONG4 integer of 16777216 bytes/,
    ],
    // A protocol-0 LONG literal of a million digits.
    ['long', Uint8Array.from(Buffer.from(`L${'9'.repeat(1_000_000)}\n.`)), /integer literal of 1000000 digits/],
  ];
  const paths = cases.map(([name, dataPkl]) => {
    const path = join(dir, `${name}.pt`);
    zipWithPickle(path, dataPkl);
    return path;
  });
  const results = await Promise.all(paths.map((path) => readInChild(path)));
  for (const [i, [name, , message]] of cases.entries()) {
    const r = results[i]!;
    assert.equal(r.ok, false, name);
    assert.equal(r.name, 'CheckpointError', name);
    assert.match(r.error!, message, name);
    t.diagnostic(`${name}: refused in ${r.ms.toFixed(0)} ms, peak RSS ${r.maxRssMb.toFixed(0)} MB`);
    assert.ok(r.maxRssMb < 400, `${name}: peak RSS ${r.maxRssMb.toFixed(0)} MB`);
    assert.ok(r.ms < 10_000, `${name}: ${r.ms} ms`);
  }
});

/** A safetensors file with this header and `dataBytes` bytes of data. */
function safetensors(header: Record<string, unknown>, dataBytes: number): Uint8Array {
  const json = Buffer.from(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

test('safetensors files the format forbids are refused as the reference refuses them', () => {
  const f32 = (begin: number, end: number) => ({
    dtype: 'F32',
    shape: [(end - begin) / 4],
    data_offsets: [begin, end],
  });
  const refused: [string, Uint8Array, RegExp][] = [
    [
      'overlap',
      safetensors({ a: f32(0, 16), b: f32(8, 24) }, 24),
      /"b" starts at data byte 8, expected 16 .*overlapping/,
    ],
    ['gap', safetensors({ a: f32(0, 16), b: f32(20, 36) }, 36), /"b" starts at data byte 20, expected 16 .*gaps/],
    ['trailing', safetensors({ a: f32(0, 16) }, 20), /end at data byte 16 but the data section has 20 bytes/],
    ['not from 0', safetensors({ a: f32(4, 20) }, 20), /starts at data byte 4, expected 0/],
    [
      'metadata',
      safetensors({ __metadata__: { step: 3 }, a: f32(0, 16) }, 16),
      /"__metadata__" must map names to strings/,
    ],
  ];
  for (const [name, bytes, message] of refused) {
    assert.throws(
      () => parseSafetensors(bytes),
      (e: unknown) => e instanceof CheckpointError && message.test((e as Error).message),
      name,
    );
  }
  const huge = new Uint8Array(16);
  new DataView(huge.buffer).setBigUint64(0, 200_000_000n, true);
  assert.throws(() => parseSafetensors(huge), CheckpointError);
  // What the format allows still reads, in any header order, with empty tensors anywhere.
  const ok = safetensors(
    { b: f32(16, 24), e: { dtype: 'F32', shape: [0], data_offsets: [16, 16] }, a: f32(0, 16) },
    24,
  );
  assert.deepEqual([...parseSafetensors(ok).tensors.keys()].sort(), ['a', 'b', 'e']);
  const written = serializeSafetensors(
    new Map([
      ['x', { dtype: 'float16' as const, shape: [3], bytes: new Uint8Array(6) }],
      ['y', { dtype: 'float64' as const, shape: [1], bytes: new Uint8Array(8) }],
    ]),
  );
  assert.equal(parseSafetensors(written).tensors.size, 2);
});

test('a tensor whose strides overlap cannot expand a tiny storage into gigabytes', async () => {
  const path = join(dir, 'expanded.pt');
  const storage = { key: '0', dtype: 'float32' as const, numel: 1 };
  const dataPkl = pickle(orderedDictValue([['w', tensorValue(storage, 0, [1 << 30], [0])]]));
  writeFileSync(
    path,
    zipFile([
      { name: 'archive/data.pkl', data: dataPkl, method: 0, uncompressedSize: dataPkl.length },
      { name: 'archive/data/0', data: new Uint8Array(4), method: 0, uncompressedSize: 4 },
    ]),
  );
  const r = await readInChild(path);
  assert.equal(r.name, 'CheckpointError');
  assert.match(r.error!, /tensor "w" .*expands a 1-element storage to 1073741824 elements/);
  assert.ok(r.maxRssMb < 300, `peak RSS ${r.maxRssMb.toFixed(0)} MB`);
});
