// The vectors of an index held in memory for scanning, in a WebAssembly kernel's memory
// (kernels/scan.wat): float32 unit vectors for exact search, or their sign bits for the coarse
// pass of approximate search (1/32 of the bytes: 64 MB for a million 512-d vectors). Loaded from
// SQLite once and then kept up to date from what other connections commit: new rows are appended;
// any deletion reloads everything.
import { instantiateKernel, type KernelMemory } from '../wasm/instantiate.js';
import { SCAN_WASM_BASE64 } from './kernels/scan-wasm.js';
import { statement, type IndexDb } from './db.js';

interface ScanKernel {
  memory: KernelMemory;
  dots(m: number, q: number, rows: number, dim: number, out: number): void;
  hamming(bits: number, q: number, rows: number, bytes: number, out: number): void;
}

export type VectorKind = 'float' | 'bits';

/** Bytes of a sign-bit code of `dim` dimensions, padded to whole 16-byte lanes. */
export const codeBytes = (dim: number) => Math.ceil(dim / 128) * 16;

/**
 * Sign bits of a vector less the codes' centre (bit j of byte j/8 set when v[j] > centre[j]),
 * padded with zeros. Image embeddings share a large mean direction: signs of the raw vectors
 * would mostly encode that mean; centred, they split each cluster (recall@10 on 1M synthetic
 * clustered vectors went from 0.80 to the figure in docs/benchmarks.md).
 */
export function signBits(v: Float32Array, centre?: Float32Array): Uint8Array {
  const code = new Uint8Array(codeBytes(v.length));
  for (let j = 0; j < v.length; j++) if (v[j]! > (centre?.[j] ?? 0)) code[j >> 3]! |= 1 << (j & 7);
  return code;
}

/**
 * Scale of the int8 codes: unit vectors of 512 dimensions have components of ~0.044 on average and
 * rarely beyond ±0.3, so x * 400 rounds to a step of 0.0025 and clamps at ±0.3175.
 */
export const Q8_SCALE = 400;

export function int8Code(v: Float32Array): Int8Array {
  return Int8Array.from(v, (x) => Math.max(-127, Math.min(127, Math.round(x * Q8_SCALE))));
}

/** The centre the index's codes were made with (meta 'code_centre', float32 base64), if any. */
export function codeCentre(db: IndexDb): Float32Array | undefined {
  const value = statement(db, "SELECT value FROM meta WHERE key = 'code_centre'").pluck().get() as string | undefined;
  if (!value) return undefined;
  const bytes = Buffer.from(value, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** Rows per kernel call. */
const SLICE_ROWS = 4096;
/** The query region at the start of the kernel's memory. */
const QUERY_BYTES = 64 * 1024;

export class VectorScan {
  private readonly kernel = instantiateKernel<ScanKernel>(SCAN_WASM_BASE64);
  /** ids[row] = photo id. */
  private ids = new Int32Array(1024);
  private rows = 0;
  private lastId = 0;
  private version = -1;
  private readonly stride: number;
  private readonly table: string;
  private readonly column: string;

  constructor(
    private readonly db: IndexDb,
    readonly kind: VectorKind,
    readonly dim: number,
  ) {
    if (dim % 4 || 4 * dim > QUERY_BYTES)
      throw new RangeError(`vectors of ${dim} dimensions: expected a multiple of 4 up to ${QUERY_BYTES / 4}`);
    this.stride = kind === 'float' ? 4 * dim : codeBytes(dim);
    [this.table, this.column] = kind === 'float' ? ['vectors', 'embedding'] : ['codes', 'bits'];
  }

  /** int8 codes of the rows (kind 'bits'), `dim` per row. */
  private q8 = new Int8Array(0);

  /** Photo id of each row (valid up to `count`). */
  get photoIds(): Int32Array {
    return this.ids.subarray(0, this.rows);
  }
  get count(): number {
    return this.rows;
  }

  /** Brings the rows up to date with the database (cheap when nothing changed). */
  refresh(): void {
    // data_version moves when another connection commits; max(id) catches this connection's own inserts.
    const version = this.db.pragma('data_version', { simple: true }) as number;
    const maxId = (statement(this.db, `SELECT max(id) FROM ${this.table}`).pluck().get() as number | null) ?? 0;
    if (version === this.version && maxId === this.lastId) return;
    this.version = version;
    const total = this.db.prepare(`SELECT count(*) FROM ${this.table}`).pluck().get() as number;
    const added = this.db.prepare(`SELECT count(*) FROM ${this.table} WHERE id > ?`).pluck().get(this.lastId) as number;
    if (this.rows + added !== total) {
      this.rows = 0;
      this.lastId = 0;
    } // something was deleted
    this.reserve(total);
    let heap = new Uint8Array(this.kernel.memory.buffer);
    const q8 = this.kind === 'bits' ? ', q8' : '';
    for (const [id, v, q] of this.db
      .prepare(`SELECT id, ${this.column}${q8} FROM ${this.table} WHERE id > ? ORDER BY id`)
      .raw()
      .iterate(this.lastId) as IterableIterator<[number, Buffer, Buffer?]>) {
      if (this.rows === this.ids.length) {
        const ids = new Int32Array(this.ids.length * 2);
        ids.set(this.ids);
        this.ids = ids;
      }
      if (q) {
        if ((this.rows + 1) * this.dim > this.q8.length) {
          const grown = new Int8Array(Math.max(total, 2 * this.rows + 1) * this.dim);
          grown.set(this.q8);
          this.q8 = grown;
        }
        this.q8.set(new Int8Array(q.buffer, q.byteOffset, this.dim), this.rows * this.dim);
      }
      if (heap.buffer !== this.kernel.memory.buffer) heap = new Uint8Array(this.kernel.memory.buffer);
      heap.set(v.subarray(0, this.stride), QUERY_BYTES + this.rows * this.stride);
      this.ids[this.rows++] = id;
      this.lastId = id;
    }
  }

  /** dot(query, int8 code) of each of `rows` (kind 'bits'): the middle pass of approximate search. */
  int8Scores(query: Float32Array, rows: readonly number[]): Float32Array {
    const out = new Float32Array(rows.length);
    const { dim, q8 } = this;
    for (let i = 0; i < rows.length; i++) {
      let sum = 0;
      for (let j = 0, o = rows[i]! * dim; j < dim; j++, o++) sum += query[j]! * q8[o]!;
      out[i] = sum;
    }
    return out;
  }

  /** Grows the kernel's memory to hold `rows` rows plus one output slot (4 bytes) per row. */
  private reserve(rows: number): void {
    const needed = QUERY_BYTES + rows * (this.stride + 4);
    const missing = Math.ceil((needed - this.kernel.memory.buffer.byteLength) / 65536);
    if (missing > 0) this.kernel.memory.grow(missing + Math.ceil(missing / 4)); // some room to append
  }

  /** Score (float) or Hamming distance (bits) of every row to the query. */
  scan(query: Float32Array): Float32Array | Uint16Array {
    this.refresh();
    const out = QUERY_BYTES + this.rows * this.stride;
    const heap = new Uint8Array(this.kernel.memory.buffer);
    const float = this.kind === 'float';
    heap.set(
      float ? new Uint8Array(query.buffer, query.byteOffset, query.byteLength) : signBits(query, codeCentre(this.db)),
      0,
    );
    // In slices: V8 optimises a WebAssembly function between calls, not during one, so the first
    // scan of a process runs unoptimised for one slice only.
    for (let row = 0; row < this.rows; row += SLICE_ROWS) {
      const n = Math.min(SLICE_ROWS, this.rows - row);
      const at = QUERY_BYTES + row * this.stride;
      if (float) this.kernel.dots(at, 0, n, this.dim, out + 4 * row);
      else this.kernel.hamming(at, 0, n, this.stride, out + 2 * row);
    }
    return float
      ? new Float32Array(this.kernel.memory.buffer, out, this.rows)
      : new Uint16Array(this.kernel.memory.buffer, out, this.rows);
  }
}
