// ToTensor + Normalize in float32, as torch computes them: x = float32(u8) / 255, then
// (x - mean) / std with float32 mean and std, every operation rounded to float32. A double
// result of one float32 operation rounded once to float32 equals the float32 operation, so
// Math.fround after each step reproduces torch exactly. Only 256 inputs exist per channel:
// a lookup table per channel.

import { assertLength, at } from '../checked.js';

export const CLIP_MEAN: readonly [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD: readonly [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

/** tables[c][v] = normalised value of byte v in channel c. */
export function normalizationTables(mean: readonly number[], std: readonly number[]): Float32Array[] {
  return [0, 1, 2].map((c) => {
    const m = Math.fround(at(mean, c));
    const s = Math.fround(at(std, c));
    const table = new Float32Array(256);
    for (let v = 0; v < 256; v++) table[v] = Math.fround(Math.fround(Math.fround(v / 255) - m) / s);
    return table;
  });
}

/** HWC uint8 RGB (n × n) → CHW float32 written into `out` at `offset`. */
export function normalizeInto(
  rgb: Uint8Array,
  pixels: number,
  tables: Float32Array[],
  out: Float32Array,
  offset = 0,
): void {
  assertLength(rgb, 3 * pixels, 'the RGB data');
  for (let c = 0; c < 3; c++) {
    const table = at(tables, c);
    const base = offset + c * pixels;
    // A byte always indexes the 256-entry table (hot loop: see checked.ts).
    for (let i = 0; i < pixels; i++) out[base + i] = table[rgb[3 * i + c] ?? 0] ?? 0;
  }
}
