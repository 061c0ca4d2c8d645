// The CLIP preprocessing pipelines on decoded pixels:
//  - 'shortest-side-crop' (OpenAI CLIP `_transform(n)`): Resize(n, BICUBIC) of the short side →
//    CenterCrop(n) → convert('RGB') → ToTensor → Normalize;
//  - 'square' (Chinese-CLIP `image_transform(n)`): Resize((n, n), BICUBIC) → convert('RGB') →
//    ToTensor → Normalize.
// Pillow resizes in the image's own mode; the crop commutes with convert('RGB'), so we resize
// only the crop window and convert that.
import type { Tensor } from '../tensor.js';
import { centerCropBox, clipBox, shortestSideSize, type Box } from './geometry.js';
import { CLIP_MEAN, CLIP_STD, normalizationTables, normalizeInto } from './normalize.js';
import { toRGB, type PilMode, type Pixels } from './pixels.js';
import { resizePil, resizeSourceBox } from './resample.js';

export type ResizeMode = 'shortest-side-crop' | 'square';

export interface TransformOptions {
  /** Output side n (the model's input resolution). */
  size: number;
  mean?: readonly [number, number, number];
  std?: readonly [number, number, number];
  /** Default 'shortest-side-crop' (OpenAI CLIP); 'square' is Chinese-CLIP's. */
  resizeMode?: ResizeMode;
}

/** Where the reference resizes to and which part of that it keeps. */
export interface ResizePlan {
  /** Size of the resized image. */
  width: number;
  height: number;
  /** The n × n crop in resized coordinates (may extend past it: zero padding). */
  crop: Box;
}

export function resizePlan(
  width: number,
  height: number,
  size: number,
  resizeMode: ResizeMode = 'shortest-side-crop',
): ResizePlan {
  if (resizeMode === 'square')
    return { width: size, height: size, crop: { left: 0, top: 0, width: size, height: size } };
  const resized = shortestSideSize(width, height, size);
  return { ...resized, crop: centerCropBox(resized.width, resized.height, size) };
}

/** The part of the resized image the crop keeps. */
function keptWindow(plan: ResizePlan): Box {
  return clipBox(plan.crop, plan.width, plan.height);
}

/** The part of a `mode` image of width × height that the transform reads (decoding only it is exact). */
export function transformSourceBox(
  mode: PilMode,
  width: number,
  height: number,
  size: number,
  resizeMode: ResizeMode = 'shortest-side-crop',
): Box {
  const plan = resizePlan(width, height, size, resizeMode);
  return resizeSourceBox(mode, width, height, plan.width, plan.height, keptWindow(plan));
}

/** The uint8 RGB n × n image ToTensor sees (HWC), zero where the crop pads. */
export function transformToRGB(img: Pixels, size: number, resizeMode: ResizeMode = 'shortest-side-crop'): Uint8Array {
  const source = img.sourceSize ?? img;
  const plan = resizePlan(source.width, source.height, size, resizeMode);
  const inside = keptWindow(plan);
  const rgb = toRGB(resizePil(img, plan.width, plan.height, inside));
  if (inside.width === size && inside.height === size) return rgb;
  // torchvision pads with zeros when the image is smaller than the crop; unreachable after
  // Resize(n), kept so the crop is right on its own.
  const out = new Uint8Array(size * size * 3);
  const dx = inside.left - plan.crop.left;
  const dy = inside.top - plan.crop.top;
  for (let y = 0; y < inside.height; y++) {
    out.set(rgb.subarray(y * inside.width * 3, (y + 1) * inside.width * 3), ((dy + y) * size + dx) * 3);
  }
  return out;
}

/** Decoded pixels → float32 [3, n, n]. */
export function transformPixels(img: Pixels, options: TransformOptions): Tensor {
  const { size } = options;
  const out = new Float32Array(3 * size * size);
  transformInto(img, options, out, 0);
  return { data: out, shape: [3, size, size] };
}

/** Same, written into a larger (batch) buffer at `offset`. */
export function transformInto(img: Pixels, options: TransformOptions, out: Float32Array, offset: number): void {
  const rgb = transformToRGB(img, options.size, options.resizeMode);
  const tables = normalizationTables(options.mean ?? CLIP_MEAN, options.std ?? CLIP_STD);
  normalizeInto(rgb, options.size * options.size, tables, out, offset);
}
