// Format and size checks for downloads that have no published SHA-256 (Hugging Face files):
// each catches a truncated or wrong file (an HTML error page, half a checkpoint) before it is
// moved into the cache. Each returns a problem description, or undefined when the file is sound.
import { open, readFile } from 'node:fs/promises';
import type { FileCheck } from './models.js';

export async function checkFile(path: string, check: FileCheck): Promise<string | undefined> {
  switch (check) {
    case 'safetensors':
      return checkSafetensors(path);
    case 'torch-zip':
      return checkZip(path);
    case 'json':
      return checkJson(path);
    case 'bpe-merges':
      return checkMerges(path);
  }
}

/** The header's largest data offset must end exactly at the end of the file. */
async function checkSafetensors(path: string): Promise<string | undefined> {
  const file = await open(path);
  try {
    const size = (await file.stat()).size;
    if (size < 8) return `safetensors file is ${size} bytes, shorter than its 8-byte header length`;
    const lengthBytes = Buffer.alloc(8);
    await file.read(lengthBytes, 0, 8, 0);
    const headerLength = Number(lengthBytes.readBigUInt64LE(0));
    if (headerLength + 8 > size) return `safetensors header claims ${headerLength} bytes but the file has ${size - 8}`;
    const header = Buffer.alloc(headerLength);
    await file.read(header, 0, headerLength, 8);
    let entries: Record<string, { data_offsets?: [number, number] }>;
    try {
      entries = JSON.parse(header.toString('utf8'));
    } catch {
      return 'safetensors header is not valid JSON';
    }
    let dataEnd = 0;
    for (const [name, entry] of Object.entries(entries)) {
      if (name !== '__metadata__' && entry.data_offsets) dataEnd = Math.max(dataEnd, entry.data_offsets[1]);
    }
    const expected = 8 + headerLength + dataEnd;
    return expected === size ? undefined : `safetensors tensors need ${expected} bytes but the file has ${size}`;
  } finally {
    await file.close();
  }
}

/** A zip (torch.save since PyTorch 1.6) starts with a local header and ends with the central directory. */
async function checkZip(path: string): Promise<string | undefined> {
  const file = await open(path);
  try {
    const size = (await file.stat()).size;
    const head = Buffer.alloc(4);
    await file.read(head, 0, 4, 0);
    if (head.readUInt32LE(0) !== 0x04034b50) return 'not a zip archive (no "PK\\x03\\x04" signature at the start)';
    // The end-of-central-directory record sits in the last 22 bytes plus an optional <64 KiB comment.
    const tailLength = Math.min(size, 22 + 0xffff);
    const tail = Buffer.alloc(tailLength);
    await file.read(tail, 0, tailLength, size - tailLength);
    return tail.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06])) >= 0
      ? undefined
      : 'zip archive has no end-of-central-directory record (truncated)';
  } finally {
    await file.close();
  }
}

async function checkJson(path: string): Promise<string | undefined> {
  try {
    JSON.parse(await readFile(path, 'utf8'));
    return undefined;
  } catch (e) {
    return `not valid JSON (${(e as Error).message})`;
  }
}

/** GPT-2 style merges files start with a "#version" line followed by "a b" pairs. */
async function checkMerges(path: string): Promise<string | undefined> {
  const lines = (await readFile(path, 'utf8')).split('\n', 3);
  if (!lines[0]?.startsWith('#version')) return 'merges file does not start with a "#version" line';
  return lines[1]?.split(' ').length === 2 ? undefined : 'merges file\'s second line is not a "first second" pair';
}
