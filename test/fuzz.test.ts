// Property tests: byte-wise and structural mutations of checkpoints (torch zip, TorchScript,
// legacy torch.save, safetensors) and images (JPEG, PNG, WebP, GIF) end in a typed error or a
// result, never a crash, a hang or unbounded memory. Self-contained seeds are generated here; the
// fixture checkpoints and images join when ../shared is present (skipped loudly otherwise).
// CLIP_FUZZ_LONG=1 runs ten times as many cases.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import sharp from 'sharp';
import { CheckpointError, InputError, UnsafePickleError } from '../src/errors.js';
import { decodeImage } from '../src/image/decode.js';
import type { ClipConfig } from '../src/models/config.js';
import { randomStateDict } from '../src/models/random.js';
import { readCheckpoint } from '../src/weights/index.js';
import { unpickle } from '../src/weights/pickle.js';
import { parseSafetensors, serializeSafetensors } from '../src/weights/safetensors.js';
import { serializeLegacy, writeTorchZip } from '../src/weights/torch-writer.js';
import { needsFixtures, OPENAI_FIXTURES } from './fixtures.js';

const SCALE = process.env.CLIP_FUZZ_LONG ? 10 : 1;
/** A case that takes longer than this counts as a hang. */
const CASE_TIMEOUT_MS = 10_000;
const dir = mkdtempSync(join(tmpdir(), 'clip-fuzz-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const CFG: ClipConfig = {
  embedDim: 8,
  activation: 'quick_gelu',
  vision: { kind: 'vit', width: 32, layers: 1, heads: 1, patchSize: 8, imageResolution: 16 },
  text: { kind: 'transformer', width: 32, layers: 1, heads: 1, contextLength: 8, vocabSize: 64 },
};

/**
 * How one input is changed: bytes overwritten (mostly near the start and end, where the structure is), cut, or a slice
 * repeated.
 */
type Mutation =
  | { kind: 'overwrite'; edits: { at: number; nearEdge: boolean; value: number }[] }
  | { kind: 'truncate'; at: number }
  | { kind: 'repeat'; at: number; length: number };

const fraction = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('overwrite' as const),
      edits: fc.array(fc.record({ at: fraction, nearEdge: fc.boolean(), value: fc.integer({ min: 0, max: 255 }) }), {
        minLength: 1,
        maxLength: 8,
      }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fraction }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('repeat' as const),
      at: fraction,
      length: fc.integer({ min: 1, max: 4096 }),
    }),
  },
);

function mutate(input: Uint8Array, m: Mutation): Uint8Array {
  const n = input.length;
  if (m.kind === 'truncate') return input.slice(0, Math.floor(m.at * n));
  if (m.kind === 'repeat') {
    const at = Math.floor(m.at * n);
    const piece = input.subarray(at, at + m.length);
    return Buffer.concat([input.subarray(0, at), piece, piece, input.subarray(at + piece.length)]);
  }
  const out = input.slice();
  const edge = Math.min(n, 4096);
  for (const { at, nearEdge, value } of m.edits) {
    // Near an edge: the first or last 4 KB (headers, pickles, zip directories); else anywhere.
    const position = nearEdge
      ? at < 0.5
        ? Math.floor(at * 2 * edge)
        : n - 1 - Math.floor((at - 0.5) * 2 * edge)
      : Math.floor(at * n);
    out[position] = value;
  }
  return out;
}

/** Runs `body`, failing the case if it takes longer than CASE_TIMEOUT_MS. */
async function bounded<T>(body: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hang: no result after ${CASE_TIMEOUT_MS} ms`)), CASE_TIMEOUT_MS);
  });
  try {
    return await Promise.race([body, hang]);
  } finally {
    clearTimeout(timer);
  }
}

/** Reading ends in a state dict or a typed checkpoint error, within the time bound; true if refused. */
async function readsOrRefuses(bytes: Uint8Array): Promise<boolean> {
  try {
    const stateDict = await bounded(readCheckpoint(bytes));
    assert.ok(stateDict instanceof Map);
    return false;
  } catch (e) {
    if (!(e instanceof CheckpointError || e instanceof UnsafePickleError)) throw e;
    return true;
  }
}

async function decodesOrRefuses(bytes: Uint8Array): Promise<boolean> {
  try {
    const pixels = await bounded(decodeImage(bytes));
    assert.ok(pixels.width > 0 && pixels.height > 0);
    return false;
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    return true;
  }
}

async function checkpointSeeds(): Promise<[string, Uint8Array][]> {
  const stateDict = randomStateDict(CFG, 3);
  const zipPath = join(dir, 'seed.pt');
  await writeTorchZip(zipPath, stateDict);
  return [
    ['torch zip', readFileSync(zipPath)],
    ['legacy', serializeLegacy(stateDict)],
    ['safetensors', serializeSafetensors(stateDict)],
  ];
}

async function imageSeeds(): Promise<[string, Uint8Array][]> {
  const width = 48;
  const height = 32;
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 29 + Math.floor(i / 3) * 7) % 256;
  const image = () => sharp(pixels, { raw: { width, height, channels: 3 } });
  return [
    ['jpeg', await image().jpeg().toBuffer()],
    ['progressive jpeg', await image().jpeg({ progressive: true }).toBuffer()],
    ['png', await image().png().toBuffer()],
    ['webp', await image().webp().toBuffer()],
    ['gif', await image().gif().toBuffer()],
  ];
}

/**
 * `runs` mutations of each seed; the peak memory of the whole run stays bounded. Some mutations
 * must be refused (else they missed the structure and tested nothing) and the seed itself read.
 */
async function fuzz(
  seeds: [string, Uint8Array][],
  check: (bytes: Uint8Array) => Promise<boolean>,
  runs: number,
): Promise<void> {
  for (const [name, seed] of seeds) {
    assert.equal(await check(seed), false, `${name}: the unmutated seed is valid`);
    let refused = 0;
    await fc
      .assert(
        fc.asyncProperty(mutation, async (m) => {
          if (await check(mutate(seed, m))) refused++;
        }),
        { numRuns: runs * SCALE, seed: 12345, endOnFailure: true },
      )
      .catch((e: Error) => {
        throw new Error(`${name}: ${e.message}`);
      });
    assert.ok(refused > 0, `${name}: no mutation was refused`);
  }
  assert.ok(process.memoryUsage().rss < 1.5 * 2 ** 30, `RSS ${process.memoryUsage().rss} bytes`);
}

test('mutated checkpoints (torch zip, legacy, safetensors) are read or refused with a typed error', async () => {
  await fuzz(await checkpointSeeds(), readsOrRefuses, 150);
});

test('mutated images (JPEG, PNG, WebP, GIF) are decoded or refused with an InputError', async () => {
  await fuzz(await imageSeeds(), decodesOrRefuses, 100);
});

test('mutated fixture checkpoints and images', { skip: needsFixtures(OPENAI_FIXTURES) }, async () => {
  const models = join(OPENAI_FIXTURES, 'models');
  await fuzz(
    readdirSync(models).map((f) => [f, readFileSync(join(models, f))] as [string, Uint8Array]),
    readsOrRefuses,
    20,
  );
  const images = join(OPENAI_FIXTURES, 'images');
  const picked = [
    'astronaut.jpg',
    'progressive.jpg',
    'palette_trns.png',
    'gray16.png',
    'motorcycle.webp',
    'tiny_animated.gif',
  ];
  await fuzz(
    picked.map((f) => [f, readFileSync(join(images, f))] as [string, Uint8Array]),
    decodesOrRefuses,
    20,
  );
});

test('structurally random safetensors headers and pickle opcode streams end in a value or a typed error', () => {
  const entry = fc.record({
    dtype: fc.constantFrom('F32', 'F16', 'BF16', 'I64', 'U8', 'BOOL', 'F8', 'x', ''),
    shape: fc.oneof(fc.array(fc.integer({ min: -2, max: 40 }), { maxLength: 4 }), fc.constant('nope')),
    data_offsets: fc.oneof(
      fc.tuple(fc.integer({ min: -4, max: 400 }), fc.integer({ min: -4, max: 400 })),
      fc.array(fc.nat(400), { maxLength: 3 }),
    ),
  });
  const header = fc.dictionary(
    fc.string({ maxLength: 6 }),
    fc.oneof(entry, fc.constant(null), fc.dictionary(fc.string({ maxLength: 3 }), fc.string({ maxLength: 3 }))),
    { maxKeys: 5 },
  );
  fc.assert(
    fc.property(header, fc.nat(400), (h, dataBytes) => {
      const json = Buffer.from(JSON.stringify(h));
      const bytes = new Uint8Array(8 + json.length + dataBytes);
      new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
      bytes.set(json, 8);
      try {
        parseSafetensors(bytes);
      } catch (e) {
        if (!(e instanceof CheckpointError)) throw e;
      }
    }),
    { numRuns: 500 * SCALE, seed: 7 },
  );

  // Opcodes of every protocol, with arguments made of random bytes: the unpickler must never throw anything untyped.
  const opcodes = [
    0x80, 0x95, 0x2e, 0x28, 0x30, 0x31, 0x32, 0x67, 0x68, 0x6a, 0x70, 0x71, 0x72, 0x94, 0x4e, 0x88, 0x89, 0x49, 0x4c,
    0x4a, 0x4b, 0x4d, 0x8a, 0x8b, 0x46, 0x47, 0x53, 0x54, 0x55, 0x56, 0x58, 0x8c, 0x8d, 0x42, 0x43, 0x8e, 0x96, 0x97,
    0x98, 0x29, 0x74, 0x85, 0x86, 0x87, 0x5d, 0x6c, 0x61, 0x65, 0x7d, 0x64, 0x73, 0x75, 0x8f, 0x90, 0x91, 0x63, 0x93,
    0x52, 0x81, 0x92, 0x69, 0x6f, 0x62, 0x82, 0x50, 0x51, 0x0a,
  ];
  const piece = fc.oneof(
    fc.constantFrom(...opcodes).map((op) => [op]),
    fc.uint8Array({ maxLength: 6 }).map((a) => [...a]),
  );
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 60 }), (pieces) => {
      try {
        unpickle(Uint8Array.from(pieces.flat()), { persistentLoad: (pid) => pid });
      } catch (e) {
        if (!(e instanceof CheckpointError || e instanceof UnsafePickleError)) throw e;
      }
    }),
    { numRuns: 2000 * SCALE, seed: 11 },
  );
});
