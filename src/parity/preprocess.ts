// Parity with the reference preprocessing fixtures. Two layouts are understood:
//  - openai-clip: preprocess/index.json, preprocess/<n>.safetensors (F32 [3,n,n] per image) and
//    preprocess/resized_<n>.safetensors (U8 [H,W,3], the full resize before the crop);
//  - chinese-clip: manifest.json → images, preprocess/res<n>.safetensors with `pixel_values`
//    (F32 [N,3,n,n]) and `<name>.resized_uint8` (U8 [n,n,3]); square resize, no crop.
// One Check per image per size: tensor max abs error ≤ 1e-6 and the uint8 resize identical.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { compareArrays, type Check } from './check.js';
import { toFloat32 } from '../tensor.js';
import { readSafetensors, type SafetensorsFile } from '../weights/safetensors.js';
import { decodeImage } from '../image/decode.js';
import { toRGB } from '../image/pixels.js';
import { resizePlan, type ResizeMode } from '../image/transform.js';
import { resizePil } from '../image/resample.js';
import { preprocess } from '../image/preprocess.js';

const TOLERANCE = 1e-6;

/** One image at one size with its reference outputs. */
interface Case {
  name: string;
  file: string;
  size: number;
  resizeMode: ResizeMode;
  tensor: Float32Array;
  /** Full resized image (HWC RGB), when stored. */
  resized?: Uint8Array;
}

export async function preprocessChecks(dir: string): Promise<Check[]> {
  const cases = existsSync(join(dir, 'preprocess', 'index.json')) ? openaiCases(dir) : chineseCases(dir);
  const checks: Check[] = [];
  for (const c of cases) checks.push(await checkCase(c));
  return checks;
}

function openaiCases(dir: string): Case[] {
  const index = JSON.parse(readFileSync(join(dir, 'preprocess', 'index.json'), 'utf8')) as {
    sizes: number[];
    images: { name: string; path: string }[];
  };
  const cases: Case[] = [];
  for (const size of index.sizes) {
    const tensors = readSafetensors(join(dir, 'preprocess', `${size}.safetensors`));
    const resizedPath = join(dir, 'preprocess', `resized_${size}.safetensors`);
    const resized = existsSync(resizedPath) ? readSafetensors(resizedPath) : undefined;
    for (const image of index.images) {
      cases.push({
        name: image.name,
        file: join(dir, image.path),
        size,
        resizeMode: 'shortest-side-crop',
        tensor: toFloat32(required(tensors, image.name, `${size}.safetensors`)),
        resized: resized && required(resized, image.name, `resized_${size}.safetensors`).bytes,
      });
    }
  }
  return cases;
}

function chineseCases(dir: string): Case[] {
  const manifestPath = join(dir, 'manifest.json');
  const folder = join(dir, 'preprocess');
  if (!existsSync(manifestPath) || !existsSync(folder)) {
    throw new Error(
      `${dir}: no preprocessing fixtures (expected preprocess/index.json, or manifest.json + ` +
        `preprocess/res<n>.safetensors)`,
    );
  }
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { images: { name: string; file: string }[] };
  const cases: Case[] = [];
  for (const entry of readdirSync(folder).sort()) {
    const match = /^res(\d+)\.safetensors$/.exec(entry);
    if (!match) continue;
    const size = Number(match[1]);
    const file = readSafetensors(join(folder, entry));
    const order = JSON.parse(file.metadata.images ?? '[]') as string[];
    const batch = toFloat32(required(file, 'pixel_values', entry));
    const per = 3 * size * size;
    for (const image of manifest.images) {
      const at = order.indexOf(image.name);
      if (at < 0) throw new Error(`${entry}: image ${image.name} is not in its "images" metadata`);
      cases.push({
        name: image.name,
        file: join(dir, image.file),
        size,
        resizeMode: 'square',
        tensor: batch.subarray(at * per, (at + 1) * per),
        resized: required(file, `${image.name}.resized_uint8`, entry).bytes,
      });
    }
  }
  return cases;
}

function required(file: SafetensorsFile, key: string, where: string) {
  const t = file.tensors.get(key);
  if (!t) throw new Error(`${where}: missing tensor "${key}"`);
  return t;
}

async function checkCase(c: Case): Promise<Check> {
  const name = `${c.name} @${c.size}`;
  try {
    // The public path (it decodes only the part the crop reads), then the full resize below.
    const ours = (await preprocess(c.file, { size: c.size, resizeMode: c.resizeMode })).data;
    const { maxAbs, maxRel } = compareArrays(ours, c.tensor);
    const notes = [`tensor max |Δ| ${maxAbs.toExponential(2)} (≤ ${TOLERANCE})`];
    let resizedOk = true;
    if (c.resized) {
      const img = await decodeImage(c.file);
      const plan = resizePlan(img.width, img.height, c.size, c.resizeMode);
      const rgb = toRGB(resizePil(img, plan.width, plan.height));
      const differing = countDiffering(rgb, c.resized);
      resizedOk = differing === 0;
      notes.push(`resized ${plan.width}×${plan.height} uint8: ${differing} of ${c.resized.length} values differ`);
    }
    return {
      group: 'preprocess',
      name,
      passed: maxAbs <= TOLERANCE && resizedOk,
      maxAbs,
      maxRel,
      detail: notes.join('; '),
    };
  } catch (e) {
    return { group: 'preprocess', name, passed: false, detail: (e as Error).message };
  }
}

function countDiffering(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.max(a.length, b.length);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}
