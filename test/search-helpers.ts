// Shared by the search tests: a random-weight model with a tiny BPE file, generated photos, the
// CLI as a process, and reading an index back as plain rows.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { ClipConfig } from '../src/models/config.js';
import { randomStateDict } from '../src/models/random.js';
import { openIndex } from '../src/search/db.js';
import { writeSafetensors } from '../src/weights/safetensors.js';

export const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
// 512 byte symbols + 2 merges + start/end tokens = 516 ids.
const MERGES = '#version: tiny\nc a\nca t</w>\n';
export const TINY: ClipConfig = {
  embedDim: 8,
  activation: 'quick_gelu',
  vision: { kind: 'vit', width: 64, layers: 1, heads: 1, patchSize: 8, imageResolution: 16 },
  text: { kind: 'transformer', width: 64, layers: 1, heads: 1, contextLength: 16, vocabSize: 516 },
};

/** A random tiny model and its BPE file in `dir`: [model, bpe]. */
export function writeTinyModel(dir: string, seed = 11, name = 'model.safetensors'): [string, string] {
  writeSafetensors(join(dir, name), randomStateDict(TINY, seed));
  writeFileSync(join(dir, 'bpe_simple_vocab_16e6.txt'), MERGES);
  return [join(dir, name), join(dir, 'bpe_simple_vocab_16e6.txt')];
}

/** A deterministic photo: smooth colour bands plus noise from `seed`, as JPEG. */
export async function writePhoto(path: string, seed: number, width = 64, height = 48): Promise<void> {
  const data = Buffer.alloc(width * height * 3);
  let s = (seed * 2654435761) >>> 0;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    const x = (i / 3) % width;
    data[i] = ((i % 3 === 0 ? x * 4 : i % 3 === 1 ? seed * 37 : (width - x) * 3) + (s >>> 26)) & 255;
  }
  await sharp(data, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 90 })
    .toFile(path);
}

export const runCli = (env: Record<string, string>, ...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, CLIP_OFFLINE: '1', ...env } });

export const startCli = (env: Record<string, string>, ...args: string[]) =>
  spawn(process.execPath, [CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CLIP_OFFLINE: '1', ...env },
  });

export interface IndexRow {
  path: string;
  sha256: string;
  taken: number | null;
  width: number | null;
  vector: string;
  bits: string;
}

/** Every path with its content hash, metadata, vector and sign bits (hex of the bytes), sorted by path. */
export function dumpIndex(file: string): IndexRow[] {
  const db = openIndex(file, { readonly: true });
  try {
    return db
      .prepare(`SELECT f.path, p.sha256, p.taken, p.width, hex(v.embedding) AS vector, hex(c.bits) AS bits
      FROM files f JOIN photos p ON p.id = f.photo_id JOIN vectors v ON v.id = p.id JOIN codes c ON c.id = p.id
      ORDER BY f.path`)
      .all() as IndexRow[];
  } finally {
    db.close();
  }
}
