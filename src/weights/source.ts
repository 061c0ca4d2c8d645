// Random access to a checkpoint's bytes, from a file (read piece by piece, so multi-GB files never
// sit in one buffer) or from bytes already in memory (zero-copy views).
import { open, type FileHandle } from 'node:fs/promises';
import { CheckpointError } from '../errors.js';

export interface ByteSource {
  /** The path, or `<buffer>`; used in error messages. */
  readonly name: string;
  readonly size: number;
  /** `length` bytes at `position`; a truncated file is a CheckpointError. */
  read(position: number, length: number): Promise<Uint8Array>;
  /** The open file descriptor, when the source is a file. */
  readonly fd?: number;
  close(): Promise<void>;
}

class FileSource implements ByteSource {
  constructor(
    readonly name: string,
    private readonly handle: FileHandle,
    readonly size: number,
  ) {}

  get fd(): number {
    return this.handle.fd;
  }

  async read(position: number, length: number): Promise<Uint8Array> {
    if (position + length > this.size) {
      throw new CheckpointError(
        this.name,
        `needs bytes ${position}..${position + length} but the file has ${this.size} (truncated?)`,
      );
    }
    // A fresh buffer per read: offset 0, so typed-array views of any element size are aligned.
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(out, done, length - done, position + done);
      if (bytesRead === 0)
        throw new CheckpointError(
          this.name,
          `file ended at byte ${position + done} while reading (changed while open?)`,
        );
      done += bytesRead;
    }
    return out;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

class MemorySource implements ByteSource {
  readonly name = '<buffer>';
  readonly bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    // A plain Uint8Array view even for a Buffer: Buffer's slice() does not copy, which would
    // surprise code that copies tensor bytes with slice().
    this.bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get size(): number {
    return this.bytes.length;
  }

  async read(position: number, length: number): Promise<Uint8Array> {
    if (position + length > this.bytes.length) {
      throw new CheckpointError(
        this.name,
        `needs bytes ${position}..${position + length} but the buffer has ${this.bytes.length} (truncated?)`,
      );
    }
    return this.bytes.subarray(position, position + length);
  }

  async close(): Promise<void> {}
}

export async function openSource(pathOrBytes: string | Uint8Array): Promise<ByteSource> {
  if (typeof pathOrBytes !== 'string') return new MemorySource(pathOrBytes);
  let handle: FileHandle;
  try {
    handle = await open(pathOrBytes, 'r');
  } catch (e) {
    throw new CheckpointError(pathOrBytes, `cannot open checkpoint (${(e as Error).message})`);
  }
  const stat = await handle.stat();
  if (!stat.isFile()) {
    await handle.close();
    throw new CheckpointError(pathOrBytes, 'is not a regular file; expected a checkpoint file');
  }
  return new FileSource(pathOrBytes, handle, stat.size);
}

/** The whole source as bytes (a view for memory sources). */
export function memoryBytes(source: ByteSource): Uint8Array | undefined {
  return source instanceof MemorySource ? source.bytes : undefined;
}
