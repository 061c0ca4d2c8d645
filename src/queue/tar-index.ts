// WebDataset shards as queue inputs: the image members of a .tar and where their bytes are, so a
// job can name a member by offset and a worker read just those bytes (no pass over the whole
// tar per job). Written by hand because tar-stream and node-tar stream entries without telling
// their offsets; only headers are read: ustar (with its name prefix), GNU long names ('L') and
// pax extended headers ('x' path=), which is what Python's tarfile and GNU tar write.

import { at } from '../checked.js';
import { closeSync, openSync, readSync } from 'node:fs';
import { InputError } from '../errors.js';

export interface TarMember {
  tar: string;
  name: string;
  /** Byte offset of the member's data in the tar, and its length. */
  offset: number;
  size: number;
}

const BLOCK = 512;

const text = (block: Buffer, start: number, length: number) =>
  block.toString('utf8', start, start + length).replace(/\0.*$/s, '');

function octal(block: Buffer, start: number, length: number, tar: string): number {
  if (at(block, start) & 0x80) throw new InputError(`${tar}: a member over 8 GB (base-256 size) is not an image`);
  const digits = text(block, start, length).trim();
  return digits ? Number.parseInt(digits, 8) : 0;
}

/** pax records "LEN key=value\n": the path, if any. */
function paxPath(data: Buffer): string | undefined {
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    const length = Number.parseInt(data.toString('utf8', at, space), 10);
    if (!(length > 0)) break;
    const record = data.toString('utf8', space + 1, at + length - 1);
    if (record.startsWith('path=')) return record.slice(5);
    at += length;
  }
  return undefined;
}

/** Regular-file members whose name passes `keep`, in tar order. */
export function tarMembers(tar: string, keep: (name: string) => boolean): TarMember[] {
  const fd = openSync(tar, 'r');
  try {
    const members: TarMember[] = [];
    const header = Buffer.alloc(BLOCK);
    let position = 0;
    let longName: string | undefined;
    for (;;) {
      if (readSync(fd, header, 0, BLOCK, position) < BLOCK || header.every((b) => b === 0)) break;
      if (text(header, 257, 5) !== 'ustar')
        throw new InputError(`${tar}: not a tar archive (no ustar header at byte ${position})`);
      const size = octal(header, 124, 12, tar);
      const type = String.fromCharCode(at(header, 156));
      const data = position + BLOCK;
      if (type === 'L' || type === 'x') {
        const bytes = Buffer.alloc(size);
        readSync(fd, bytes, 0, size, data);
        longName = type === 'L' ? text(bytes, 0, size) : (paxPath(bytes) ?? longName);
      } else {
        const prefix = text(header, 345, 155);
        const name = longName ?? (prefix ? `${prefix}/${text(header, 0, 100)}` : text(header, 0, 100));
        longName = undefined;
        if ((type === '0' || type === '\0') && keep(name)) members.push({ tar, name, offset: data, size });
      }
      position = data + Math.ceil(size / BLOCK) * BLOCK;
    }
    return members;
  } finally {
    closeSync(fd);
  }
}
