// Where `clip embed` writes its rows: JSON lines on stdout (default) or in a .jsonl file, or a .npy
// matrix (float32 [rows, dim], written as rows arrive, so memory stays bounded) with a sidecar
// `<file>.rows.jsonl` naming each row's input ({"image": path} or {"text": text}).
// The .npy header is npy.ts's, at a fixed size so the row count can be written at the end.
import { closeSync, existsSync, openSync, statSync, writeSync } from 'node:fs';
import { dirname, extname } from 'node:path';
import { npyHeader } from '../npy.js';
import { UsageError } from './options.js';

export type RowKind = 'image' | 'text';

export interface EmbeddingOutput {
  add(kind: RowKind, input: string, embedding: Float32Array): void;
  close(): void;
}

/** Checks `--out` before any work: a .npy or .jsonl name in an existing folder. */
export function openEmbeddingOutput(path: string | undefined): EmbeddingOutput {
  if (path === undefined) return jsonLines((line) => process.stdout.write(line));
  const ext = extname(path).toLowerCase();
  if (ext !== '.npy' && ext !== '.jsonl') {
    throw new UsageError(`--out ${path}: expected a file name ending in .npy or .jsonl`);
  }
  const folder = dirname(path);
  if (!existsSync(folder) || !statSync(folder).isDirectory()) {
    throw new UsageError(`--out ${path}: folder ${folder} does not exist`);
  }
  if (ext === '.jsonl') {
    const fd = openSync(path, 'w');
    return { ...jsonLines((line) => writeSync(fd, line)), close: () => closeSync(fd) };
  }
  return new NpyWriter(path);
}

const row = (kind: RowKind, input: string) => JSON.stringify({ [kind]: input });

function jsonLines(write: (line: string) => void): EmbeddingOutput {
  return {
    add: (kind, input, embedding) =>
      write(`${row(kind, input).slice(0, -1)},"embedding":${JSON.stringify(Array.from(embedding))}}\n`),
    close: () => {},
  };
}

/** A fixed header size, so the shape can be rewritten in place once every row is written. */
const HEADER_BYTES = 128;

const npyHeaderOf = (rows: number, dim: number) => npyHeader('float32', [rows, dim], HEADER_BYTES);

class NpyWriter implements EmbeddingOutput {
  private readonly fd: number;
  private readonly sidecar: number;
  private rows = 0;
  private dim = 0;

  constructor(private readonly path: string) {
    this.fd = openSync(path, 'w');
    this.sidecar = openSync(`${path}.rows.jsonl`, 'w');
    writeSync(this.fd, npyHeaderOf(0, 0));
  }

  add(kind: RowKind, input: string, embedding: Float32Array): void {
    if (this.rows === 0) this.dim = embedding.length;
    if (embedding.length !== this.dim) {
      throw new Error(`internal: row of ${embedding.length} values in a ${this.dim}-column ${this.path}`);
    }
    writeSync(this.fd, new Uint8Array(embedding.buffer, embedding.byteOffset, embedding.byteLength));
    writeSync(this.sidecar, `${row(kind, input)}\n`);
    this.rows++;
  }

  close(): void {
    writeSync(this.fd, npyHeaderOf(this.rows, this.dim), 0, HEADER_BYTES, 0);
    closeSync(this.fd);
    closeSync(this.sidecar);
  }
}
