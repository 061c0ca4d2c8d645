// The vectors of an index held in memory for scanning, in a WebAssembly kernel's memory
// (kernels/scan.wat): float32 unit vectors for exact search, or, for approximate search, their
// sign bits (1/32 of the bytes: 64 MB for a million 512-d vectors) and int8 codes (a second kernel
// instance, a memory of its own). Loaded from SQLite once and then kept up to date from what other
// connections commit: new rows are appended; any deletion reloads everything.
import { instantiateKernel, type KernelMemory } from '../wasm/instantiate.js';
import { SCAN_WASM_BASE64 } from './kernels/scan-wasm.js';
import { at } from '../checked.js';
import { statement, type IndexDb } from './db.js';

interface ScanKernel {
  memory: KernelMemory;
  dots(m: number, q: number, rows: number, dim: number, out: number): void;
  hamming(bits: number, q: number, rows: number, bytes: number, out: number, hist: number): void;
  collect(dist: number, rows: number, cut: number, atCut: number, out: number): number;
  dots8(codes: number, q: number, rows: number, n: number, stride: number, out: number): void;
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
  v.forEach((x, j) => {
    if (x > (centre?.[j] ?? 0)) code[j >> 3] = (code[j >> 3] ?? 0) | (1 << (j & 7));
  });
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

/** The query against int8 codes: int16, scaled so that its largest component is ±16383 (see dots8). */
function int16Query(query: Float32Array): Int16Array {
  let max = 0;
  for (const x of query) max = Math.max(max, Math.abs(x));
  const scale = max > 0 ? 16383 / max : 0;
  return Int16Array.from(query, (x) => Math.round(x * scale));
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
/** The query region at the start of each kernel memory. */
const QUERY_BYTES = 64 * 1024;
/** Where the histogram of Hamming distances sits in the query region (after a float query of up to 4096). */
const HISTOGRAM = 32 * 1024;

/** Grows a kernel's memory to at least `bytes`, with a quarter more of room to append. */
function growTo(memory: KernelMemory, bytes: number): void {
  const missing = Math.ceil((bytes - memory.buffer.byteLength) / 65536);
  if (missing > 0) memory.grow(missing + Math.ceil(missing / 4));
}

export class VectorScan {
  /** Float vectors or sign bits, one row each after the query region, then one output slot per row. */
  private readonly kernel = instantiateKernel<ScanKernel>(SCAN_WASM_BASE64);
  /** int8 codes (kind 'bits'): the int16 query, the rows, then the row list and scores of a dots8 call. */
  private readonly int8 = instantiateKernel<ScanKernel>(SCAN_WASM_BASE64);
  /** ids[row] = photo id. */
  private ids = new Int32Array(1024);
  private rows = 0;
  private lastId = 0;
  private version = -1;
  private readonly stride: number;
  /** Bytes of an int8 code row (dim padded to 16-byte lanes). */
  private readonly int8Stride: number;
  private readonly table: string;
  private readonly column: string;

  constructor(
    private readonly db: IndexDb,
    readonly kind: VectorKind,
    readonly dim: number,
  ) {
    if (dim % 4 || dim > 4096)
      throw new RangeError(`vectors of ${dim} dimensions: expected a multiple of 4 up to 4096`);
    this.stride = kind === 'float' ? 4 * dim : codeBytes(dim);
    this.int8Stride = Math.ceil(dim / 16) * 16;
    [this.table, this.column] = kind === 'float' ? ['vectors', 'embedding'] : ['codes', 'bits'];
  }

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
    // Rows, then per row an output slot (4 bytes) and a slot of the shortlist (4 bytes).
    growTo(this.kernel.memory, QUERY_BYTES + total * (this.stride + 8));
    if (this.kind === 'bits') growTo(this.int8.memory, QUERY_BYTES + total * this.int8Stride);
    if (this.ids.length < total) {
      const ids = new Int32Array(Math.max(total, 2 * this.ids.length));
      ids.set(this.ids.subarray(0, this.rows));
      this.ids = ids;
    }
    const heap = new Uint8Array(this.kernel.memory.buffer);
    const codes = new Uint8Array(this.int8.memory.buffer);
    const rows = this.db
      .prepare(
        `SELECT id, ${this.column}${this.kind === 'bits' ? ', q8' : ''} FROM ${this.table} WHERE id > ? ORDER BY id`,
      )
      .raw()
      .iterate(this.lastId) as IterableIterator<[number, Buffer, Buffer?]>;
    for (const [id, v, q8] of rows) {
      // Rows committed since the count above are left for the next refresh (the memory holds `total`).
      if (this.rows === total) break;
      heap.set(v.subarray(0, this.stride), QUERY_BYTES + this.rows * this.stride);
      if (q8) codes.set(q8.subarray(0, this.dim), QUERY_BYTES + this.rows * this.int8Stride);
      this.ids[this.rows++] = id;
      this.lastId = id;
    }
  }

  /**
   * dot(query, int8 code) of each of `rows` (kind 'bits'), in the codes' units (only the order
   * means something): the middle pass of approximate search. A view, valid until the next call.
   */
  int8Scores(query: Float32Array, rows: Int32Array): Int32Array {
    const list = QUERY_BYTES + this.rows * this.int8Stride;
    const out = list + 4 * rows.length;
    growTo(this.int8.memory, out + 4 * rows.length);
    const { buffer } = this.int8.memory;
    new Int16Array(buffer, 0, this.dim).set(int16Query(query));
    new Int32Array(buffer, list, rows.length).set(rows);
    this.int8.dots8(QUERY_BYTES, 0, list, rows.length, this.int8Stride, out);
    return new Int32Array(buffer, out, rows.length);
  }

  /** The float32 unit vector of a row (kind 'float'): a view, valid until the next refresh. */
  vector(row: number): Float32Array {
    return new Float32Array(this.kernel.memory.buffer, QUERY_BYTES + row * this.stride, this.dim);
  }

  /**
   * dot(row `of`, row) for `count` rows from `from` (kind 'float', after a refresh): one tile of
   * the all-pairs scores of `clip dupes`. A view, valid until the next call.
   */
  rowScores(of: number, from: number, count: number): Float32Array {
    const out = QUERY_BYTES + this.rows * this.stride;
    this.kernel.dots(QUERY_BYTES + from * this.stride, QUERY_BYTES + of * this.stride, count, this.dim, out);
    return new Float32Array(this.kernel.memory.buffer, out, count);
  }

  /**
   * The rows of the `keep` smallest distances of the last scan (kind 'bits', no filter), in row order:
   * the histogram the scan kept gives the cut, the kernel collects the rows (ties at the cut: the first).
   */
  nearest(keep: number): Int32Array {
    const counts = new Uint32Array(this.kernel.memory.buffer, HISTOGRAM, 8 * this.stride + 1);
    let cut = 0;
    let below = 0;
    for (; cut < counts.length - 1 && below + at(counts, cut) < keep; cut++) below += at(counts, cut);
    const dist = QUERY_BYTES + this.rows * this.stride;
    const list = dist + 4 * this.rows;
    const n = this.kernel.collect(dist, this.rows, cut, Math.min(keep - below, at(counts, cut)), list);
    return new Int32Array(this.kernel.memory.buffer, list, n).slice();
  }

  /** Score (float) or Hamming distance (bits) of every row to the query. A view, valid until the next call. */
  scan(query: Float32Array): Float32Array | Uint16Array {
    this.refresh();
    const out = QUERY_BYTES + this.rows * this.stride;
    const heap = new Uint8Array(this.kernel.memory.buffer);
    const float = this.kind === 'float';
    heap.set(
      float ? new Uint8Array(query.buffer, query.byteOffset, query.byteLength) : signBits(query, codeCentre(this.db)),
      0,
    );
    if (!float) new Uint32Array(this.kernel.memory.buffer, HISTOGRAM, 8 * this.stride + 1).fill(0);
    // In slices: V8 optimises a WebAssembly function between calls, not during one, so the first
    // scan of a process runs unoptimised for one slice only.
    for (let row = 0; row < this.rows; row += SLICE_ROWS) {
      const n = Math.min(SLICE_ROWS, this.rows - row);
      const from = QUERY_BYTES + row * this.stride;
      if (float) this.kernel.dots(from, 0, n, this.dim, out + 4 * row);
      else this.kernel.hamming(from, 0, n, this.stride, out + 2 * row, HISTOGRAM);
    }
    return float
      ? new Float32Array(this.kernel.memory.buffer, out, this.rows)
      : new Uint16Array(this.kernel.memory.buffer, out, this.rows);
  }
}
