// A restricted unpickler: it understands every opcode of pickle protocols 0–5 but only builds
// plain data (None, bool, int, float, str, bytes, tuple, list, dict, set) and the few globals a
// PyTorch checkpoint needs. Hand-written because it is security-critical: Python's own unpickler
// calls any importable function a file names (`os.system`, `builtins.eval`, ...), which is how
// malicious checkpoints run code. Here nothing named by a file is ever executed: allowlisted
// globals map to small TypeScript handlers that only construct data, `__torch__.*` classes become
// inert records, and every other global is refused with an UnsafePickleError naming it.
import { at } from '../checked.js';
import { CheckpointError, UnsafePickleError } from '../errors.js';
import type { DType } from '../tensor.js';

/** A storage class named in a pickle (`torch.FloatStorage`, ...): only its element type matters. */
export class StorageType {
  constructor(
    readonly name: string,
    readonly dtype: DType,
  ) {}
}

/** A tensor as the pickle describes it; its bytes live in the storage the caller's loader returned. */
export class TensorRef<S = unknown> {
  constructor(
    readonly storage: S,
    readonly storageOffset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {}
}

/** An object of a TorchScript class (`__torch__.*`): an inert record of what BUILD gave it. */
export class ScriptObject {
  state: unknown = undefined;
  constructor(readonly className: string) {}
}

/** A pickle that ends before its STOP opcode (the caller may retry with more bytes). */
export class TruncatedPickleError extends CheckpointError {
  override name = 'TruncatedPickleError';
}

/**
 * Bounds that keep a hostile pickle from exhausting memory or time; real checkpoints stay far
 * below them (a ViT-L/14 TorchScript data.pkl is ~10^4 values and well under a megabyte):
 * the pickle's size, the values it may build (each op can make one, and an empty dict costs
 * ~100 bytes of heap), and integer literals (arbitrary-precision parsing is quadratic).
 */
export const MAX_PICKLE_BYTES = 64 << 20;
const MAX_VALUES = 1 << 20;
const MAX_INT_BYTES = 64;

export interface UnpickleOptions {
  /** File name used in error messages. */
  source?: string;
  /** Byte position where the pickle starts (several pickles may follow each other). */
  offset?: number;
  /** Resolves a persistent id (BINPERSID/PERSID); without it persistent ids are an error. */
  persistentLoad?: (pid: unknown) => unknown;
}

export interface Unpickled {
  value: unknown;
  /** Byte position just after the STOP opcode. */
  end: number;
}

/** A TorchScript class (`__torch__.*`): instantiating it only creates a ScriptObject. */
class ScriptClass {
  constructor(readonly name: string) {}
}

/** An allowlisted callable: REDUCE/NEWOBJ may call these and nothing else. */
class SafeCallable {
  constructor(
    readonly name: string,
    readonly call: (args: readonly unknown[], at: string) => unknown,
  ) {}
}

const STORAGE_DTYPES: Record<string, DType> = {
  DoubleStorage: 'float64',
  FloatStorage: 'float32',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

function isIntList(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((x) => Number.isSafeInteger(x) && (x as number) >= 0);
}

function rebuildTensor(args: readonly unknown[], at: string): TensorRef {
  const [storage, offset, size, stride] = args;
  if (
    !Number.isSafeInteger(offset) ||
    (offset as number) < 0 ||
    !isIntList(size) ||
    !isIntList(stride) ||
    size.length !== stride.length
  ) {
    throw new CheckpointError(
      at,
      `tensor rebuild expects (storage, offset ≥ 0, size tuple, stride tuple of the same length), got ` +
        `offset=${String(offset)} size=${JSON.stringify(size)} stride=${JSON.stringify(stride)}`,
    );
  }
  return new TensorRef(storage, offset as number, size, stride);
}

function orderedDict(args: readonly unknown[], at: string): Map<unknown, unknown> {
  const map = new Map<unknown, unknown>();
  if (args.length === 0) return map;
  const items = args[0];
  if (!Array.isArray(items) || !items.every((p) => Array.isArray(p) && p.length === 2)) {
    throw new CheckpointError(at, 'collections.OrderedDict expects no argument or a list of (key, value) pairs');
  }
  for (const [k, v] of items as [unknown, unknown][]) map.set(k, v);
  return map;
}

/** Everything a checkpoint may name. Values are what the global stands for once loaded. */
const ALLOWED = new Map<string, unknown>([
  ['collections.OrderedDict', new SafeCallable('collections.OrderedDict', orderedDict)],
  ['torch._utils._rebuild_tensor', new SafeCallable('torch._utils._rebuild_tensor', rebuildTensor)],
  ['torch._utils._rebuild_tensor_v2', new SafeCallable('torch._utils._rebuild_tensor_v2', rebuildTensor)],
  // A Parameter is its tensor plus requires_grad and hooks, none of which a reader needs.
  ['torch._utils._rebuild_parameter', new SafeCallable('torch._utils._rebuild_parameter', (args) => args[0])],
  [
    'torch._utils._rebuild_parameter_with_state',
    new SafeCallable('torch._utils._rebuild_parameter_with_state', (args) => args[0]),
  ],
  ...Object.entries(STORAGE_DTYPES).map(
    ([cls, dtype]) => [`torch.${cls}`, new StorageType(`torch.${cls}`, dtype)] as const,
  ),
  // Untyped storages (torch ≥ 2) count bytes.
  ['torch.UntypedStorage', new StorageType('torch.UntypedStorage', 'uint8')],
  ['torch.storage.UntypedStorage', new StorageType('torch.storage.UntypedStorage', 'uint8')],
]);

function resolveGlobal(module: string, name: string, at: string): unknown {
  const full = `${module}.${name}`;
  const allowed = ALLOWED.get(full);
  if (allowed !== undefined) return allowed;
  if (module === '__torch__' || module.startsWith('__torch__.')) return new ScriptClass(full);
  if (module === 'torch' && /^\w+Storage$/.test(name)) {
    // A real torch storage class, harmless but of an element type we cannot represent.
    throw new CheckpointError(
      at,
      `unsupported storage dtype "${full}" (expected one of ${Object.keys(STORAGE_DTYPES)
        .map((s) => `torch.${s}`)
        .join(', ')})`,
    );
  }
  throw new UnsafePickleError(
    `${at}: refused global "${full}" (a checkpoint may only name tensor-rebuilding globals; nothing a file names is ` +
      `ever imported or called)`,
  );
}

function describe(v: unknown): string {
  if (v instanceof SafeCallable || v instanceof StorageType || v instanceof ScriptClass) return `"${v.name}"`;
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'a tuple/list';
  if (v instanceof Map) return 'a dict';
  return typeof v;
}

const utf8 = new TextDecoder('utf-8');
const latin1 = new TextDecoder('latin1');

function normaliseInt(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Little-endian two's complement integer of any length (LONG1/LONG4). */
function decodeLong(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(at(bytes, i));
  if (at(bytes, bytes.length - 1) & 0x80) v -= 1n << BigInt(8 * bytes.length);
  return normaliseInt(v);
}

/** Python `raw-unicode-escape` (protocol-0 UNICODE): latin-1 text with \uXXXX and \UXXXXXXXX escapes. */
function decodeRawUnicodeEscape(text: string): string {
  return text.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, u4: string | undefined, u8: string | undefined) =>
    String.fromCodePoint(parseInt(u4 ?? u8 ?? '', 16)),
  );
}

/** Python string literal body with backslash escapes (protocol-0 STRING). */
function decodeEscapedString(text: string): string {
  return text.replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/gs, (_, e: string) => {
    if (e[0] === 'x') return String.fromCharCode(parseInt(e.slice(1), 16));
    if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8));
    const simple: Record<string, string> = {
      n: '\n',
      t: '\t',
      r: '\r',
      '\\': '\\',
      "'": "'",
      '"': '"',
      a: '\x07',
      b: '\b',
      f: '\f',
      v: '\v',
      '\n': '',
    };
    return simple[e] ?? `\\${e}`;
  });
}

class Unpickler {
  private pos: number;
  private stack: unknown[] = [];
  private readonly metastack: unknown[][] = [];
  private readonly memo = new Map<number, unknown>();
  private readonly view: DataView;
  private readonly source: string;
  private opStart = 0;
  private values = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly options: UnpickleOptions,
  ) {
    this.pos = options.offset ?? 0;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.source = options.source ?? '<pickle>';
  }

  private get at(): string {
    return `${this.source} (pickle byte ${this.opStart})`;
  }

  private fail(message: string): never {
    throw new CheckpointError(this.source, `malformed pickle at byte ${this.opStart}: ${message}`);
  }

  private need(n: number): number {
    if (!Number.isSafeInteger(n) || n < 0) this.fail(`invalid length ${n}`);
    if (this.pos + n > this.bytes.length) {
      throw new TruncatedPickleError(
        this.source,
        `pickle is truncated: opcode at byte ${this.opStart} needs ${n} bytes, only ${this.bytes.length - this.pos} ` +
          `left`,
      );
    }
    const start = this.pos;
    this.pos += n;
    return start;
  }

  private take(n: number): Uint8Array {
    const start = this.need(n);
    return this.bytes.subarray(start, start + n);
  }

  private u8(): number {
    return at(this.bytes, this.need(1));
  }
  private u16(): number {
    return this.view.getUint16(this.need(2), true);
  }
  private u32(): number {
    return this.view.getUint32(this.need(4), true);
  }
  private i32(): number {
    return this.view.getInt32(this.need(4), true);
  }
  private u64(): number {
    const v = this.view.getBigUint64(this.need(8), true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`length ${v} is too large`);
    return Number(v);
  }

  private line(): string {
    const nl = this.bytes.indexOf(0x0a, this.pos);
    if (nl < 0)
      throw new TruncatedPickleError(
        this.source,
        `pickle is truncated: opcode at byte ${this.opStart} expects a newline-terminated argument`,
      );
    const text = latin1.decode(this.bytes.subarray(this.pos, nl));
    this.pos = nl + 1;
    return text;
  }

  private utf8Line(): string {
    const start = this.pos;
    this.line();
    return utf8.decode(this.bytes.subarray(start, this.pos - 1));
  }

  private countValue(): void {
    if (++this.values > MAX_VALUES) this.fail(`builds more than ${MAX_VALUES} values; no checkpoint's pickle does`);
  }

  private push(v: unknown): void {
    this.countValue();
    this.stack.push(v);
  }

  private pop(): unknown {
    if (this.stack.length === 0) this.fail('stack underflow');
    return this.stack.pop();
  }

  private top(): unknown {
    if (this.stack.length === 0) this.fail('stack underflow');
    return this.stack[this.stack.length - 1];
  }

  private mark(): void {
    this.countValue();
    this.metastack.push(this.stack);
    this.stack = [];
  }

  private popMark(): unknown[] {
    const items = this.stack;
    const outer = this.metastack.pop();
    if (outer === undefined) this.fail('no MARK on the stack');
    this.stack = outer;
    return items;
  }

  private memoGet(index: number): void {
    if (!this.memo.has(index)) this.fail(`memo key ${index} was never stored`);
    this.push(this.memo.get(index));
  }

  private memoPut(index: number): void {
    if (!Number.isSafeInteger(index) || index < 0) this.fail(`invalid memo key ${index}`);
    if (this.memo.size >= MAX_VALUES && !this.memo.has(index)) this.fail(`memoizes more than ${MAX_VALUES} values`);
    this.memo.set(index, this.top());
  }

  private global(module: string, name: string): void {
    this.push(resolveGlobal(module, name, this.at));
  }

  /** REDUCE, NEWOBJ, INST, OBJ: only allowlisted callables and TorchScript classes may be "called". */
  private instantiate(callable: unknown, args: unknown): unknown {
    if (!Array.isArray(args)) this.fail(`call arguments must be a tuple, got ${describe(args)}`);
    if (callable instanceof SafeCallable) return callable.call(args, this.at);
    if (callable instanceof ScriptClass) return new ScriptObject(callable.name);
    throw new UnsafePickleError(
      `${this.at}: refused to call ${describe(callable)} (only allowlisted tensor-rebuilding globals may be called)`,
    );
  }

  private build(target: unknown, state: unknown): void {
    if (target instanceof ScriptObject) {
      target.state = state;
      return;
    }
    // An OrderedDict state_dict carries a `_metadata` attribute (module versions); readers ignore it.
    if (target instanceof Map) return;
    this.fail(`BUILD on ${describe(target)} is not supported (expected a TorchScript object or an OrderedDict)`);
  }

  private setItems(dict: unknown, items: unknown[]): void {
    if (!(dict instanceof Map)) this.fail(`SETITEM(S) on ${describe(dict)}, expected a dict`);
    if (items.length % 2) this.fail('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) dict.set(items[i], items[i + 1]);
  }

  private appendItems(list: unknown, items: unknown[]): void {
    if (!Array.isArray(list)) this.fail(`APPEND(S) on ${describe(list)}, expected a list`);
    for (const item of items) list.push(item);
  }

  private addItems(set: unknown, items: unknown[]): void {
    if (!(set instanceof Set)) this.fail(`ADDITEMS on ${describe(set)}, expected a set`);
    for (const item of items) set.add(item);
  }

  private persistentLoad(pid: unknown): unknown {
    if (!this.options.persistentLoad) this.fail('persistent id found but this pickle has no storage loader');
    return this.options.persistentLoad(pid);
  }

  private textInt(text: string): number | bigint {
    const digits = text.endsWith('L') ? text.slice(0, -1) : text;
    const maxDigits = Math.floor(2.5 * MAX_INT_BYTES);
    if (digits.length > maxDigits) this.fail(`integer literal of ${digits.length} digits; the limit is ${maxDigits}`);
    if (!/^[+-]?\d+$/.test(digits)) this.fail(`invalid integer literal ${JSON.stringify(text.slice(0, 40))}`);
    return normaliseInt(BigInt(digits));
  }

  private quotedString(text: string): string {
    const q = text[0];
    if (text.length < 2 || (q !== '"' && q !== "'") || text[text.length - 1] !== q)
      this.fail('STRING argument is not quoted');
    return decodeEscapedString(text.slice(1, -1));
  }

  run(): Unpickled {
    for (;;) {
      this.opStart = this.pos;
      const op = this.u8();
      switch (op) {
        // --- framing, protocol, end
        case 0x80: {
          // PROTO
          const proto = this.u8();
          if (proto > 5) this.fail(`unsupported pickle protocol ${proto}`);
          break;
        }
        case 0x95:
          this.u64();
          break; // FRAME: only a read-ahead hint
        case 0x2e: {
          // STOP
          const value = this.pop();
          return { value, end: this.pos };
        }
        // --- stack manipulation
        case 0x28:
          this.mark();
          break; // MARK
        case 0x30:
          this.pop();
          break; // POP
        case 0x31:
          this.popMark();
          break; // POP_MARK
        case 0x32:
          this.push(this.top());
          break; // DUP
        // --- memo
        case 0x67:
          this.memoGet(Number(this.textInt(this.line())));
          break; // GET
        case 0x68:
          this.memoGet(this.u8());
          break; // BINGET
        case 0x6a:
          this.memoGet(this.u32());
          break; // LONG_BINGET
        case 0x70:
          this.memoPut(Number(this.textInt(this.line())));
          break; // PUT
        case 0x71:
          this.memoPut(this.u8());
          break; // BINPUT
        case 0x72:
          this.memoPut(this.u32());
          break; // LONG_BINPUT
        case 0x94:
          this.memoPut(this.memo.size);
          break; // MEMOIZE
        // --- constants and numbers
        case 0x4e:
          this.push(null);
          break; // NONE
        case 0x88:
          this.push(true);
          break; // NEWTRUE
        case 0x89:
          this.push(false);
          break; // NEWFALSE
        case 0x49: {
          // INT (protocol 0; "01"/"00" are True/False)
          const text = this.line();
          this.push(text === '01' ? true : text === '00' ? false : this.textInt(text));
          break;
        }
        case 0x4c:
          this.push(this.textInt(this.line()));
          break; // LONG
        case 0x4a:
          this.push(this.i32());
          break; // BININT
        case 0x4b:
          this.push(this.u8());
          break; // BININT1
        case 0x4d:
          this.push(this.u16());
          break; // BININT2
        case 0x8a:
          this.push(decodeLong(this.take(this.u8())));
          break; // LONG1
        case 0x8b: {
          // LONG4
          const n = this.i32();
          if (n < 0) this.fail('LONG4 with a negative length');
          if (n > MAX_INT_BYTES) this.fail(`LONG4 integer of ${n} bytes; the limit is ${MAX_INT_BYTES}`);
          this.push(decodeLong(this.take(n)));
          break;
        }
        case 0x46: {
          // FLOAT
          const text = this.line().trim();
          if (!/^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|inf|nan)$/i.test(text))
            this.fail(`invalid float literal ${JSON.stringify(text)}`);
          this.push(
            /inf/i.test(text) ? (text.startsWith('-') ? -Infinity : Infinity) : /nan/i.test(text) ? NaN : Number(text),
          );
          break;
        }
        case 0x47:
          this.push(this.view.getFloat64(this.need(8), false));
          break; // BINFLOAT (big-endian)
        // --- strings and bytes (str8 decoded as UTF-8, as torch.load does)
        case 0x53:
          this.push(this.quotedString(this.line()));
          break; // STRING
        case 0x54:
          this.push(utf8.decode(this.take(this.i32())));
          break; // BINSTRING
        case 0x55:
          this.push(utf8.decode(this.take(this.u8())));
          break; // SHORT_BINSTRING
        case 0x56:
          this.push(decodeRawUnicodeEscape(this.line()));
          break; // UNICODE
        case 0x58:
          this.push(utf8.decode(this.take(this.u32())));
          break; // BINUNICODE
        case 0x8c:
          this.push(utf8.decode(this.take(this.u8())));
          break; // SHORT_BINUNICODE
        case 0x8d:
          this.push(utf8.decode(this.take(this.u64())));
          break; // BINUNICODE8
        case 0x42:
          this.push(new Uint8Array(this.take(this.u32())));
          break; // BINBYTES
        case 0x43:
          this.push(new Uint8Array(this.take(this.u8())));
          break; // SHORT_BINBYTES
        case 0x8e:
          this.push(new Uint8Array(this.take(this.u64())));
          break; // BINBYTES8
        case 0x96:
          this.push(new Uint8Array(this.take(this.u64())));
          break; // BYTEARRAY8
        // biome-ignore lint/suspicious/noFallthroughSwitchClause: fail() throws
        case 0x97:
          this.fail('out-of-band buffers (NEXT_BUFFER) are not supported'); // NEXT_BUFFER
        case 0x98:
          break; // READONLY_BUFFER: a flag on the buffer on top; nothing to do
        // --- tuples, lists, dicts, sets
        case 0x29:
          this.push([]);
          break; // EMPTY_TUPLE
        case 0x74:
          this.push(this.popMark());
          break; // TUPLE
        case 0x85:
          this.push([this.pop()]);
          break; // TUPLE1
        case 0x86: {
          const b = this.pop();
          const a = this.pop();
          this.push([a, b]);
          break;
        } // TUPLE2
        case 0x87: {
          const c = this.pop();
          const b = this.pop();
          const a = this.pop();
          this.push([a, b, c]);
          break;
        } // TUPLE3
        case 0x5d:
          this.push([]);
          break; // EMPTY_LIST
        case 0x6c:
          this.push(this.popMark());
          break; // LIST
        case 0x61: {
          const item = this.pop();
          this.appendItems(this.top(), [item]);
          break;
        } // APPEND
        case 0x65: {
          const items = this.popMark();
          this.appendItems(this.top(), items);
          break;
        } // APPENDS
        case 0x7d:
          this.push(new Map());
          break; // EMPTY_DICT
        case 0x64: {
          const d = new Map();
          this.setItems(d, this.popMark());
          this.push(d);
          break;
        } // DICT
        case 0x73: {
          const v = this.pop();
          const k = this.pop();
          this.setItems(this.top(), [k, v]);
          break;
        } // SETITEM
        case 0x75: {
          const items = this.popMark();
          this.setItems(this.top(), items);
          break;
        } // SETITEMS
        case 0x8f:
          this.push(new Set());
          break; // EMPTY_SET
        case 0x90: {
          const items = this.popMark();
          this.addItems(this.top(), items);
          break;
        } // ADDITEMS
        case 0x91:
          this.push(new Set(this.popMark()));
          break; // FROZENSET
        // --- globals and object construction (all through the allowlist)
        case 0x63: {
          const module = this.utf8Line();
          const name = this.utf8Line();
          this.global(module, name);
          break;
        } // GLOBAL
        case 0x93: {
          // STACK_GLOBAL
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') this.fail('STACK_GLOBAL expects two strings');
          this.global(module, name);
          break;
        }
        case 0x52: {
          const args = this.pop();
          const fn = this.pop();
          this.push(this.instantiate(fn, args));
          break;
        } // REDUCE
        case 0x81: {
          const args = this.pop();
          const cls = this.pop();
          this.push(this.instantiate(cls, args));
          break;
        } // NEWOBJ
        case 0x92: {
          this.pop();
          const args = this.pop();
          const cls = this.pop();
          this.push(this.instantiate(cls, args));
          break;
        } // NEWOBJ_EX (kwargs ignored)
        case 0x69: {
          // INST
          const module = this.utf8Line();
          const name = this.utf8Line();
          const args = this.popMark();
          this.push(this.instantiate(resolveGlobal(module, name, this.at), args));
          break;
        }
        case 0x6f: {
          // OBJ
          const [cls, ...args] = this.popMark();
          this.push(this.instantiate(cls, args));
          break;
        }
        case 0x62: {
          const state = this.pop();
          this.build(this.top(), state);
          break;
        } // BUILD
        case 0x82:
        case 0x83:
        case 0x84: // EXT1, EXT2, EXT4
          throw new UnsafePickleError(
            `${this.at}: refused extension-registry global (EXT opcodes name code by number)`,
          );
        // --- persistent ids (tensor storages)
        case 0x50:
          this.push(this.persistentLoad(this.line()));
          break; // PERSID
        case 0x51:
          this.push(this.persistentLoad(this.pop()));
          break; // BINPERSID
        default:
          this.fail(`unknown opcode 0x${op.toString(16).padStart(2, '0')}`);
      }
    }
  }
}

/** Unpickles one pickle from `bytes` (starting at `options.offset`), building only safe values. */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions = {}): Unpickled {
  return new Unpickler(bytes, options).run();
}
