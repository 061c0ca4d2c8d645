// One parity check: a name, pass/fail and the figures behind it. Every part (weights, models,
// text, image) contributes checks; parity/main.ts prints them and the final JSON summary.

import { at } from '../checked.js';
import { toFloat32, type RawTensor } from '../tensor.js';

export interface Check {
  /** e.g. "vit-tiny.jit.pt image_features" or "tokenizer #133 encode". */
  name: string;
  passed: boolean;
  /** Max absolute error, for numeric checks. */
  maxAbs?: number;
  /** Max absolute error divided by the reference's max absolute value. */
  maxRel?: number;
  /** Extra words: what differed, the tolerance, counts. */
  detail?: string;
  /** Group for the summary's per-group counts: "model", "tokenizer", "preprocess", ... */
  group: string;
}

/** A model check against a stored reference tensor: passes within `tol` absolute, or relative when allowed. */
export function numericCheck(
  name: string,
  ours: ArrayLike<number>,
  ref: RawTensor,
  tol: number,
  allowRelative = false,
): Check {
  const expected = toFloat32(ref);
  const { maxAbs, maxRel } = compareArrays(ours, expected);
  const passed = maxAbs <= tol || (allowRelative && maxRel <= tol);
  return {
    group: 'model',
    name,
    passed,
    maxAbs,
    maxRel,
    detail: ours.length === expected.length ? `tol ${tol}` : `length ${ours.length} vs ${expected.length}`,
  };
}

/** Every element within `atol + rtol·|reference|` (numpy's allclose rule). */
export function allCloseCheck(
  name: string,
  ours: ArrayLike<number>,
  ref: RawTensor,
  atol: number,
  rtol: number,
): Check {
  const expected = toFloat32(ref);
  const { maxAbs, maxRel } = compareArrays(ours, expected);
  let passed = ours.length === expected.length;
  for (let i = 0; passed && i < expected.length; i++)
    passed = Math.abs(at(ours, i) - at(expected, i)) <= atol + rtol * Math.abs(at(expected, i));
  return {
    group: 'model',
    name,
    passed,
    maxAbs,
    maxRel,
    detail:
      ours.length === expected.length ? `|Δ| ≤ ${atol} + ${rtol}·|ref|` : `length ${ours.length} vs ${expected.length}`,
  };
}

/** Runs `check` on each file; a file whose check throws becomes one failed check naming the error. */
export async function checksPerFile(
  files: readonly string[],
  check: (file: string) => Promise<Check[]>,
): Promise<Check[]> {
  const checks: Check[] = [];
  for (const file of files) {
    try {
      checks.push(...(await check(file)));
    } catch (e) {
      checks.push({ group: 'model', name: file, passed: false, detail: `failed: ${(e as Error).message}` });
    }
  }
  return checks;
}

/** Compares two float arrays: max abs error and the error relative to the reference's scale. */
export function compareArrays(ours: ArrayLike<number>, ref: ArrayLike<number>): { maxAbs: number; maxRel: number } {
  if (ours.length !== ref.length) return { maxAbs: Infinity, maxRel: Infinity };
  let maxAbs = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    const [o, r] = [ours[i], at(ref, i)];
    // A missing element of ours (a shorter array) counts as an infinite difference.
    const d = o === undefined ? Infinity : Math.abs(o - r);
    if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : Math.max(maxAbs, d);
    scale = Math.max(scale, Math.abs(r));
  }
  return { maxAbs, maxRel: scale > 0 ? maxAbs / scale : maxAbs };
}

/** A JSON list of strings in a safetensors file's metadata (`where` names the file in errors). */
export function metadataList(metadata: Record<string, string>, key: string, where: string): string[] {
  const text = metadata[key];
  if (text === undefined) throw new Error(`${where} has no metadata "${key}"`);
  const list: unknown = JSON.parse(text);
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string'))
    throw new Error(`${where}: metadata "${key}" is not a list of strings`);
  return list;
}
