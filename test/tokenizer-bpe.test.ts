// Byte-level BPE, tokenize() rows and the vocabulary loaders, on a tiny merges file built here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { InputError } from '../src/errors.js';
import { bytesToUnicode } from '../src/text/bpe.js';
import { tokenizerChecks } from '../src/parity/tokenizer.js';
import { Tokenizer } from '../src/text/tokenizer.js';
import { defaultTokenizer } from '../src/zoo/tokenizer.js';

// Merges in rank order; the vocab is 256 byte symbols, their '</w>' forms (256..511), one id
// per merge from 512 on, then <|startoftext|> and <|endoftext|>.
const MERGES = ['h e', 'l l', 'he ll', 'hell o</w>', 'c a', 'ca t</w>'];
const MERGES_TEXT = `#version: tiny\n${MERGES.join('\n')}\n`;
const [HELLO, CAT, SOT, EOT] = [515, 517, 518, 519];

/** Id of a single-byte symbol, by the reference's bytes_to_unicode order: the 188 printable
 * Latin-1 bytes (0x21-0x7E, 0xA1-0xAC, 0xAE-0xFF) first in byte order, then the other 68. */
function byteId(b: number, endOfWord = false): number {
  const printable = (x: number) => (x >= 0x21 && x <= 0x7e) || (x >= 0xa1 && x <= 0xac) || (x >= 0xae && x <= 0xff);
  let id = 0;
  for (let x = 0; x < 256; x++) if (printable(x) && x < b) id++;
  if (!printable(b)) {
    id = 188;
    for (let x = 0; x < b; x++) if (!printable(x)) id++;
  }
  return id + (endOfWord ? 256 : 0);
}

const tiny = () => Tokenizer.fromMergesText(MERGES_TEXT);

test('vocabulary layout follows the reference', () => {
  const t = tiny();
  assert.equal(t.vocabSize, 512 + MERGES.length + 2);
  assert.deepEqual([t.sotToken, t.eotToken], [SOT, EOT]);
  assert.deepEqual(t.encode('!'), [256]); // '!' is the first printable byte: id 0, '</w>' form 256
  assert.deepEqual(t.encode('a b'), [byteId(0x61, true), byteId(0x62, true)]);
});

test('merges apply lowest rank first, whole words end in </w>', () => {
  const t = tiny();
  assert.deepEqual(t.encode('Hello CAT'), [HELLO, CAT]);
  // 'hellos': h e l l o s</w> → he ll o s</w> → hell o s</w>; 'hell o</w>' needs o to end the word.
  assert.deepEqual(t.encode('hellos'), [514, byteId(0x6f), byteId(0x73, true)]);
  assert.deepEqual(t.encode('cats'), [516, byteId(0x74), byteId(0x73, true)]);
});

test('emoji and CJK are encoded byte by byte (UTF-8)', () => {
  const t = tiny();
  // 😀 = F0 9F 98 80, 猫 = E7 8C AB; no merges apply, the last byte carries '</w>'.
  assert.deepEqual(t.encode('😀'), [byteId(0xf0), byteId(0x9f), byteId(0x98), byteId(0x80, true)]);
  assert.deepEqual(t.encode('猫'), [byteId(0xe7), byteId(0x8c), byteId(0xab, true)]);
  assert.equal(t.decode(t.encode('😀 猫')), '😀 猫 ');
});

test('special tokens typed in the text become their ids', () => {
  const t = tiny();
  assert.deepEqual(t.encode('hello <|endoftext|> <|STARTOFTEXT|>'), [HELLO, EOT, SOT]);
});

test('the per-word cache remembers each piece once and gives the same ids', () => {
  const t = tiny();
  const seeded = t.cachedPieces; // the two special tokens
  assert.equal(seeded, 2);
  const first = t.encode('hello cat hello');
  assert.equal(t.cachedPieces, seeded + 2);
  assert.deepEqual(t.encode('hello cat hello'), first);
  assert.equal(t.cachedPieces, seeded + 2);
});

test('tokenize: SOT, ids, EOT, zero padding, one row per text', () => {
  const rows = tiny().tokenize(['hello cat', 'cat'], { contextLength: 5 });
  assert.deepEqual(rows.shape, [2, 5]);
  assert.ok(rows.data instanceof Int32Array);
  assert.deepEqual([...rows.data], [SOT, HELLO, CAT, EOT, 0, SOT, CAT, EOT, 0, 0]);
  assert.deepEqual(tiny().tokenize('').shape, [1, 77]);
  assert.deepEqual([...tiny().tokenize('').data.slice(0, 3)], [SOT, EOT, 0]);
});

test('tokenize: too long throws with the index and count; truncate keeps EOT last', () => {
  const t = tiny();
  // 'cat hello cat' is 3 ids + SOT + EOT = 5 tokens.
  assert.throws(
    () => t.tokenize(['cat', 'cat hello cat'], { contextLength: 4 }),
    (e: unknown) =>
      e instanceof InputError &&
      /texts\[1\]/.test(e.message) &&
      /5 tokens/.test(e.message) &&
      /context length 4/.test(e.message),
  );
  assert.deepEqual([...t.tokenize('cat hello cat', { contextLength: 4, truncate: true }).data], [SOT, CAT, HELLO, EOT]);
  // exactly fits
  assert.deepEqual([...t.tokenize('cat hello cat', { contextLength: 5 }).data], [SOT, CAT, HELLO, CAT, EOT]);
});

test("tokenize: every context length gives clip.tokenize's row, from SOT/ids/EOT cut and EOT put last", () => {
  const t = tiny();
  const texts = ['cat hello cat hello', 'hello', '', 'cat <|endoftext|> cat'];
  for (const contextLength of [2, 3, 4, 5, 6, 7, 8]) {
    const rows = t.tokenize(texts, { contextLength, truncate: true });
    texts.forEach((text, i) => {
      // clip.tokenize: tokens = [SOT] + encode + [EOT]; if too long, the first contextLength with EOT last; zero
      // padded.
      let expected = [SOT, ...t.encode(text), EOT];
      if (expected.length > contextLength) expected = [...expected.slice(0, contextLength - 1), EOT];
      while (expected.length < contextLength) expected.push(0);
      assert.deepEqual(
        [...rows.data.subarray(i * contextLength, (i + 1) * contextLength)],
        expected,
        `${JSON.stringify(text)} at ${contextLength}`,
      );
    });
  }
});

test('decode: </w> becomes a space, bad UTF-8 becomes U+FFFD, unknown ids throw', () => {
  const t = tiny();
  assert.equal(t.decode([HELLO, CAT]), 'hello cat ');
  assert.equal(t.decode([SOT, HELLO, EOT]), '<|startoftext|>hello <|endoftext|>');
  assert.equal(t.decode(t.encode('a</w>b')), 'a </ w > b '); // pieces a, </, w, >, b each end in '</w>'
  assert.equal(t.decode([byteId(0xf0), byteId(0x9f)]), '\ufffd'); // a cut 4-byte sequence
  assert.throws(() => t.decode([EOT + 1]), InputError);
});

test('Hugging Face vocab.json + merges.txt: ids come from vocab.json', () => {
  const dir = mkdtempSync(join(tmpdir(), 'clip-hf-'));
  try {
    // Same merges, ids of our own choosing (reversed), as a Hugging Face export could have.
    const reference = tiny();
    const n = reference.vocabSize;
    const bytes = [...bytesToUnicode().values()];
    const symbols = [
      ...bytes,
      ...bytes.map((b) => `${b}</w>`),
      ...MERGES.map((m) => m.replace(' ', '')),
      '<|startoftext|>',
      '<|endoftext|>',
    ];
    const vocab = Object.fromEntries(symbols.map((symbol, id) => [symbol, n - 1 - id]));
    writeFileSync(join(dir, 'vocab.json'), JSON.stringify(vocab));
    writeFileSync(join(dir, 'merges.txt'), `#version: 0.2\n${MERGES.join('\n')}\n`);
    const hf = Tokenizer.fromHuggingFaceFiles(join(dir, 'vocab.json'), join(dir, 'merges.txt'));
    const text = 'Hello cat 😀 <|endoftext|>';
    assert.deepEqual(
      hf.encode(text),
      reference.encode(text).map((id) => n - 1 - id),
    );
    assert.equal(hf.decode(hf.encode(text)), reference.decode(reference.encode(text)));
    assert.deepEqual([hf.sotToken, hf.eotToken], [n - 1 - SOT, n - 1 - EOT]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('default loader: bpePath or CLIP_BPE_PATH, else the cache, else a clear error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'clip-bpe-'));
  const saved = { cache: process.env.CLIP_CACHE_DIR, bpe: process.env.CLIP_BPE_PATH };
  try {
    process.env.CLIP_CACHE_DIR = dir;
    delete process.env.CLIP_BPE_PATH;
    assert.throws(
      () => defaultTokenizer(),
      (e: unknown) =>
        e instanceof InputError &&
        e.message.includes('bpe_simple_vocab_16e6.txt.gz') &&
        e.message.includes('CLIP_BPE_PATH') &&
        e.message.includes(dir),
    );
    // A gzip'd file in the cache and a plain one given by path load the same vocabulary.
    writeFileSync(join(dir, 'bpe_simple_vocab_16e6.txt.gz'), gzipSync(MERGES_TEXT));
    writeFileSync(join(dir, 'plain.txt'), MERGES_TEXT);
    assert.deepEqual(defaultTokenizer().encode('hello cat'), [HELLO, CAT]);
    assert.deepEqual(defaultTokenizer(join(dir, 'plain.txt')).encode('hello cat'), [HELLO, CAT]);
    process.env.CLIP_BPE_PATH = join(dir, 'missing.txt');
    assert.throws(() => defaultTokenizer(), /missing\.txt.*CLIP_BPE_PATH/);
  } finally {
    for (const [key, value] of [
      ['CLIP_CACHE_DIR', saved.cache],
      ['CLIP_BPE_PATH', saved.bpe],
    ] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tokenizerChecks: one check per case, naming the aspect that differs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clip-tok-parity-'));
  try {
    writeFileSync(join(dir, 'bpe_simple_vocab_16e6.txt.gz'), gzipSync(MERGES_TEXT));
    const row = (ids: number[], length = 77) => [...ids, ...Array<number>(length - ids.length).fill(0)];
    const good = {
      id: 1,
      category: 'caption',
      text: 'hello cat',
      encode: [HELLO, CAT],
      decode: 'hello cat ',
      ftfy_changes_text: false,
      tokenize: { truncate_false: row([SOT, HELLO, CAT, EOT]), truncate_true: row([SOT, HELLO, CAT, EOT]) },
    };
    // Wrong on purpose: encode and the truncate=false row claim 'cat' is 'hello', and a too-long error that can't
    // happen.
    const bad = {
      ...good,
      id: 2,
      encode: [HELLO, HELLO],
      tokenize: { truncate_false: { error: 'too long' }, truncate_true: row([SOT, HELLO, CAT, EOT]) },
    };
    writeFileSync(join(dir, 'tokenizer_cases.json'), JSON.stringify({ context_length: 77, cases: [good, bad] }));
    const checks = await tokenizerChecks(dir);
    assert.deepEqual(
      checks.map((c) => [c.name, c.passed, c.group]),
      [
        ['tokenizer #1 caption', true, 'tokenizer'],
        ['tokenizer #2 caption', false, 'tokenizer'],
      ],
    );
    assert.match(checks[1]!.detail!, /^encode: first difference at 1 \(ours 517, reference 515/);
    assert.match(checks[1]!.detail!, /tokenize\(truncate=false\): expected the too-long error/);
    assert.match(checks[1]!.detail!, /decode: got "hello hello ", expected "hello cat "/);
    assert.doesNotMatch(checks[1]!.detail!, /truncate=true/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
