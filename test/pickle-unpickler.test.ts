// The restricted unpickler, opcode by opcode, on hand-assembled pickles. Expected values follow
// from the pickle format (Python's Lib/pickletools.py documents every opcode).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CheckpointError } from '../src/errors.js';
import { ScriptObject, TensorRef, TruncatedPickleError, unpickle } from '../src/weights/pickle.js';

/** Concatenates opcodes: numbers are bytes, strings are latin-1 text, arrays raw bytes. */
function p(...parts: (number | string | number[])[]): Uint8Array {
  const out: number[] = [];
  for (const part of parts) {
    if (typeof part === 'number') out.push(part);
    else if (typeof part === 'string') for (const ch of part) out.push(ch.charCodeAt(0));
    else out.push(...part);
  }
  return Uint8Array.from(out);
}
const u32 = (n: number): number[] => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff];
const u64 = (n: number): number[] => [...u32(n), 0, 0, 0, 0];
const utf8 = (s: string): number[] => [...Buffer.from(s, 'utf8')];

const load = (...parts: (number | string | number[])[]): unknown => unpickle(p(0x80, 2, ...parts, '.')).value;

test('integers: BININT, BININT1, BININT2, LONG1, LONG4 and the protocol-0 INT/LONG lines', () => {
  assert.equal(load('J', u32(-5 >>> 0)), -5); // BININT: signed 32-bit little-endian
  assert.equal(load('K', 255), 255); // BININT1: unsigned byte
  assert.equal(load('M', 0xff, 0xff), 65535); // BININT2: unsigned 16-bit
  assert.equal(load(0x8a, 0), 0); // LONG1 of length 0 is 0
  assert.equal(load(0x8a, 1, 0xff), -1); // two's complement
  assert.equal(load(0x8a, 2, 0x00, 0x01), 256);
  assert.equal(load(0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0x80, 0), 2n ** 63n); // beyond 2^53: a bigint
  assert.equal(load(0x8b, u32(3), 0x01, 0x00, 0x80), -(2 ** 23) + 1); // LONG4: 0x800001 negative
  assert.equal(unpickle(p('I42\n.')).value, 42);
  assert.equal(unpickle(p('I01\n.')).value, true); // protocol-0 booleans
  assert.equal(unpickle(p('I00\n.')).value, false);
  assert.equal(unpickle(p('L-123L\n.')).value, -123);
});

test('floats, None and booleans', () => {
  assert.equal(load('G', 0x3f, 0xf8, 0, 0, 0, 0, 0, 0), 1.5); // BINFLOAT is big-endian
  assert.equal(unpickle(p('F0.25\n.')).value, 0.25);
  assert.equal(load('N'), null);
  assert.equal(load(0x88), true);
  assert.equal(load(0x89), false);
});

test('text and bytes opcodes', () => {
  assert.equal(load(0x8c, 3, utf8('hé')), 'hé'); // SHORT_BINUNICODE
  assert.equal(load('X', u32(5), utf8('aé£')), 'aé£'); // BINUNICODE
  assert.equal(load(0x8d, u64(2), utf8('ok')), 'ok'); // BINUNICODE8
  assert.equal(unpickle(p("S'a\\nb'\n.")).value, 'a\nb'); // STRING with an escape
  assert.equal(load('T', u32(3), 'abc'), 'abc'); // BINSTRING
  assert.equal(load('U', 2, 'hi'), 'hi'); // SHORT_BINSTRING
  assert.equal(unpickle(p('V\\u00e9x\n.')).value, 'éx'); // UNICODE (raw-unicode-escape)
  assert.deepEqual(load('C', 2, 1, 2), Uint8Array.from([1, 2])); // SHORT_BINBYTES
  assert.deepEqual(load('B', u32(1), 9), Uint8Array.from([9])); // BINBYTES
  assert.deepEqual(load(0x8e, u64(1), 7), Uint8Array.from([7])); // BINBYTES8
  assert.deepEqual(load(0x96, u64(1), 8), Uint8Array.from([8])); // BYTEARRAY8
});

test('tuples, lists, dicts and sets', () => {
  assert.deepEqual(load(')'), []);
  assert.deepEqual(load('K', 1, 0x85), [1]); // TUPLE1
  assert.deepEqual(load('K', 1, 'K', 2, 0x86), [1, 2]); // TUPLE2
  assert.deepEqual(load('K', 1, 'K', 2, 'K', 3, 0x87), [1, 2, 3]); // TUPLE3
  assert.deepEqual(load('(', 'K', 1, 'K', 2, 'K', 3, 'K', 4, 't'), [1, 2, 3, 4]); // MARK ... TUPLE
  assert.deepEqual(load(']', 'K', 1, 'a', '(', 'K', 2, 'K', 3, 'e'), [1, 2, 3]); // EMPTY_LIST APPEND APPENDS
  assert.deepEqual(load('(', 'K', 5, 'l'), [5]); // LIST
  assert.deepEqual(
    load('}', 'K', 1, 'K', 2, 's', '(', 'K', 3, 'K', 4, 'u'),
    new Map([
      [1, 2],
      [3, 4],
    ]),
  ); // SETITEM(S)
  assert.deepEqual(load('(', 'K', 1, 'K', 2, 'd'), new Map([[1, 2]])); // DICT
  assert.deepEqual(load(0x8f, '(', 'K', 1, 'K', 2, 0x90), new Set([1, 2])); // EMPTY_SET ADDITEMS
  assert.deepEqual(load('(', 'K', 1, 0x91), new Set([1])); // FROZENSET
});

test('stack opcodes and memo: PUT/GET, BINPUT/BINGET, LONG_BINPUT/LONG_BINGET, MEMOIZE share one object', () => {
  assert.deepEqual(load('K', 1, 'K', 2, '0', 0x85), [1]); // POP drops the 2
  assert.deepEqual(load('K', 1, '(', 'K', 2, 'K', 3, '1', 0x85), [1]); // POP_MARK drops back to the mark
  assert.deepEqual(load('K', 7, '2', 0x86), [7, 7]); // DUP
  const binput = load(']', 'q', 0, 'h', 0, 0x86) as unknown[][];
  assert.equal(binput[0], binput[1], 'BINGET returns the same list object');
  const long = load(']', 'r', u32(70000), 'j', u32(70000), 0x86) as unknown[][];
  assert.equal(long[0], long[1]);
  // Stack: list A (memo 0), list B (memo 1), GET 1 → B; TUPLE2 of the top two is (B, B).
  const memoize = unpickle(p(0x80, 4, ']', 0x94, ']', 0x94, 'h', 1, 0x86, '.')).value as unknown[][];
  assert.equal(memoize[0], memoize[1], 'MEMOIZE numbers entries 0, 1, ... so GET 1 is the second list');
  const text = unpickle(p('(lp0\n(g0\ng0\nt.')).value as unknown[][]; // protocol 0: PUT/GET lines
  assert.equal(text[0], text[1]);
  assert.deepEqual(text, [[], []]);
});

test('PROTO 4 with FRAME and STACK_GLOBAL; STOP reports where the pickle ended', () => {
  const first = p(
    0x80,
    4,
    0x95,
    u64(30),
    0x8c,
    11,
    'collections',
    0x94,
    0x8c,
    11,
    'OrderedDict',
    0x94,
    0x93,
    ')',
    'R',
    '.',
  );
  const both = Uint8Array.from([...first, ...p(0x80, 2, 'K', 9, '.')]);
  const a = unpickle(both);
  assert.deepEqual(a.value, new Map());
  assert.equal(a.end, first.length);
  assert.equal(unpickle(both, { offset: a.end }).value, 9);
});

test('an OrderedDict state dict with tensors rebuilt from persistent ids, and its _metadata BUILD ignored', () => {
  const rebuild = (key: string, offset: number): (number | string | number[])[] => [
    'ctorch._utils\n_rebuild_tensor_v2\n',
    '(',
    '(',
    'X',
    u32(7),
    'storage',
    'ctorch\nHalfStorage\n',
    'X',
    u32(key.length),
    key,
    'X',
    u32(3),
    'cpu',
    'K',
    6,
    't',
    'Q',
    'K',
    offset,
    'K',
    2,
    'K',
    3,
    0x86,
    'K',
    3,
    'K',
    1,
    0x86,
    0x89,
    'ccollections\nOrderedDict\n',
    ')',
    'R',
    't',
    'R',
  ];
  const pids: unknown[] = [];
  const value = unpickle(
    p(
      0x80,
      2,
      'ccollections\nOrderedDict\n',
      ')',
      'R',
      '(',
      'X',
      u32(1),
      'w',
      ...rebuild('0', 0),
      'u',
      '}',
      'X',
      u32(9),
      '_metadata',
      '}',
      's',
      'b',
      '.',
    ),
    {
      persistentLoad: (pid) => {
        pids.push(pid);
        return { loaded: (pid as unknown[])[2] };
      },
    },
  ).value as Map<string, TensorRef>;
  assert.deepEqual([...value.keys()], ['w']);
  const w = value.get('w')!;
  assert.ok(w instanceof TensorRef);
  assert.deepEqual(w.storage, { loaded: '0' });
  assert.deepEqual([w.storageOffset, w.shape, w.stride], [0, [2, 3], [3, 1]]);
  assert.equal(pids.length, 1);
  assert.equal((pids[0] as unknown[])[0], 'storage');
});

test('TorchScript objects (__torch__.*) become inert records of their BUILD state', () => {
  const value = load(
    'c__torch__.clip.model.___torch_mangle_7\nQuickGELU\n',
    ')',
    0x81,
    '}',
    'X',
    u32(8),
    'training',
    0x88,
    's',
    'b',
  ) as ScriptObject;
  assert.ok(value instanceof ScriptObject);
  assert.equal(value.className, '__torch__.clip.model.___torch_mangle_7.QuickGELU');
  assert.deepEqual(value.state, new Map([['training', true]]));
});

test('malformed pickles fail with a CheckpointError giving the byte offset', () => {
  const fails = (bytes: Uint8Array, pattern: RegExp): void =>
    assert.throws(
      () => unpickle(bytes, { source: 'x.pkl' }),
      (e: Error) => e instanceof CheckpointError && pattern.test(e.message) && e.message.startsWith('x.pkl'),
    );
  fails(p(0x80, 2, 'R', '.'), /byte 2: stack underflow/);
  fails(p(0x80, 2, 'X', u32(5), 'ab'), /truncated: opcode at byte 2 needs 5 bytes, only 2 left/);
  fails(p(0x80, 2, 'N'), /truncated: opcode at byte 3/); // no STOP
  fails(p(0x80, 2, 0xff, '.'), /byte 2: unknown opcode 0xff/);
  fails(p(0x80, 2, '1', '.'), /byte 2: no MARK/);
  fails(p(0x80, 2, 'h', 3, '.'), /byte 2: memo key 3 was never stored/);
  fails(p(0x80, 2, 'K', 1, 'K', 2, 'a', '.'), /byte 6: APPEND\(S\) on number/);
  fails(p(0x80, 2, 'K', 1, 'Q', '.'), /byte 4: persistent id found but this pickle has no storage loader/);
  fails(p(0x80, 9, '.'), /unsupported pickle protocol 9/);
  fails(p(0x80, 2, 0x8d, [0, 0, 0, 0, 0, 0, 0, 0x10], '.'), /byte 2: .*(too large|truncated)/); // 2^60-byte string
  fails(p(0x80, 2, 'I12x\n', '.'), /invalid integer literal/);
  assert.throws(() => unpickle(p(0x80, 2, 'N')), TruncatedPickleError);
});
