// A small protocol-2 pickle writer: just enough Python values to write torch checkpoints
// (tensor rebuild calls, persistent storage ids, OrderedDicts, TorchScript-style objects) that
// Python's `torch.load` and our own reader accept. Hand-written: it is the mirror of pickle.ts.

import { at } from '../checked.js';

/** A global (`module.name`), written with GLOBAL. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
}

/** `fn(*args)`, written as GLOBAL + args tuple + REDUCE. */
export class PyCall {
  constructor(
    readonly fn: PyGlobal,
    readonly args: readonly PickleValue[],
  ) {}
}

/** `cls.__new__(cls)` then BUILD with `state` (how TorchScript pickles module objects). */
export class PyObject {
  constructor(
    readonly cls: PyGlobal,
    readonly state: PickleValue,
  ) {}
}

/** A Python list (plain arrays are written as tuples). */
export class PyList {
  constructor(readonly items: readonly PickleValue[]) {}
}

/** A persistent id (BINPERSID): how torch refers to storages kept outside the pickle. */
export class PersistentId {
  constructor(readonly id: PickleValue) {}
}

/**
 * Python values: null → None, integral numbers and bigints → int, other numbers → float,
 * arrays → tuple, Map → dict.
 */
export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | readonly PickleValue[]
  | ReadonlyMap<string | number, PickleValue>
  | PyGlobal
  | PyCall
  | PyObject
  | PyList
  | PersistentId;

class Writer {
  private chunks: Uint8Array[] = [];

  bytes(...values: number[]): void {
    this.chunks.push(Uint8Array.from(values));
  }

  raw(data: Uint8Array): void {
    this.chunks.push(data);
  }

  u32(op: number, n: number): void {
    const b = new Uint8Array(5);
    b[0] = op;
    new DataView(b.buffer).setUint32(1, n, true);
    this.chunks.push(b);
  }

  result(): Uint8Array {
    return Buffer.concat(this.chunks);
  }
}

const MARK = 0x28,
  STOP = 0x2e,
  TUPLE = 0x74,
  EMPTY_TUPLE = 0x29,
  TUPLE1 = 0x85,
  TUPLE2 = 0x86,
  TUPLE3 = 0x87;
const EMPTY_DICT = 0x7d,
  SETITEMS = 0x75,
  EMPTY_LIST = 0x5d,
  APPENDS = 0x65;

function writeInt(w: Writer, v: bigint): void {
  if (v >= 0n && v < 0x100n)
    w.bytes(0x4b, Number(v)); // BININT1
  else if (v >= 0n && v < 0x10000n)
    w.bytes(0x4d, Number(v) & 0xff, Number(v) >> 8); // BININT2
  else if (v >= -(2n ** 31n) && v < 2n ** 31n) {
    // BININT
    const b = new Uint8Array(5);
    b[0] = 0x4a;
    new DataView(b.buffer).setInt32(1, Number(v), true);
    w.raw(b);
  } else {
    // LONG1: little-endian two's complement, shortest length
    const out: number[] = [];
    let x = v;
    for (;;) {
      out.push(Number(x & 0xffn));
      x >>= 8n;
      const sign = at(out, out.length - 1) & 0x80;
      if ((x === 0n && !sign) || (x === -1n && sign)) break;
    }
    w.bytes(0x8a, out.length, ...out);
  }
}

function writeString(w: Writer, s: string): void {
  const data = Buffer.from(s, 'utf8');
  w.u32(0x58, data.length); // BINUNICODE
  w.raw(data);
}

function writeTuple(w: Writer, items: readonly PickleValue[]): void {
  if (items.length === 0) {
    w.bytes(EMPTY_TUPLE);
    return;
  }
  if (items.length > 3) w.bytes(MARK);
  for (const item of items) writeValue(w, item);
  w.bytes([EMPTY_TUPLE, TUPLE1, TUPLE2, TUPLE3][items.length] ?? TUPLE);
}

function writeValue(w: Writer, v: PickleValue): void {
  if (v === null)
    w.bytes(0x4e); // NONE
  else if (typeof v === 'boolean')
    w.bytes(v ? 0x88 : 0x89); // NEWTRUE / NEWFALSE
  else if (typeof v === 'bigint') writeInt(w, v);
  else if (typeof v === 'number') {
    if (Number.isSafeInteger(v)) writeInt(w, BigInt(v));
    else {
      // BINFLOAT is big-endian
      const b = new Uint8Array(9);
      b[0] = 0x47;
      new DataView(b.buffer).setFloat64(1, v, false);
      w.raw(b);
    }
  } else if (typeof v === 'string') writeString(w, v);
  else if (Array.isArray(v)) writeTuple(w, v);
  else if (v instanceof PyGlobal)
    w.raw(Buffer.from(`c${v.module}\n${v.name}\n`, 'utf8')); // GLOBAL
  else if (v instanceof PyCall) {
    writeValue(w, v.fn);
    writeTuple(w, v.args);
    w.bytes(0x52); // REDUCE
  } else if (v instanceof PyObject) {
    writeValue(w, v.cls);
    w.bytes(EMPTY_TUPLE, 0x81); // NEWOBJ
    writeValue(w, v.state);
    w.bytes(0x62); // BUILD
  } else if (v instanceof PyList) {
    w.bytes(EMPTY_LIST);
    if (v.items.length) {
      w.bytes(MARK);
      for (const item of v.items) writeValue(w, item);
      w.bytes(APPENDS);
    }
  } else if (v instanceof PersistentId) {
    writeValue(w, v.id);
    w.bytes(0x51); // BINPERSID
  } else if (v instanceof Map) {
    w.bytes(EMPTY_DICT);
    if (v.size) {
      w.bytes(MARK);
      for (const [key, value] of v) {
        writeValue(w, key);
        writeValue(w, value);
      }
      w.bytes(SETITEMS);
    }
  } else {
    throw new TypeError(`cannot pickle ${String(v)}`);
  }
}

/** `value` as a protocol-2 pickle. */
export function pickle(value: PickleValue): Uint8Array {
  const w = new Writer();
  w.bytes(0x80, 2); // PROTO 2
  writeValue(w, value);
  w.bytes(STOP);
  return w.result();
}
