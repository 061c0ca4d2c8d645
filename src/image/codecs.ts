// Decoding without sharp (the browser): encoded bytes → the pixels Pillow 9.4's `Image.open`
// gives, in its mode. The browser's own decoders (createImageBitmap, canvas) colour-manage and
// use their own JPEG settings, so JPEG and WebP go through WebAssembly builds of the libraries
// Pillow uses: libjpeg-turbo (MozJPEG's decoder: ISLOW DCT, fancy upsampling, as Pillow's
// defaults) and libwebp, passed in as `WasmCodecs` (the web entry bundles their .wasm).
// PNG and GIF are lossless, so any correct decoder gives Pillow's values: fast-png and gifuct-js.
// Four-component (CMYK) JPEGs take `jpegCmyk`, not bit-exact (image/cmyk-jpeg.ts), then Pillow's
// CMYK resize and CMYK → RGB conversion like every other mode.
import { decode as decodePng } from 'fast-png';
import { decompressFrames, parseGIF } from 'gifuct-js';
import { assertLength, at } from '../checked.js';
import { InputError } from '../errors.js';
import type { PilMode, Pixels } from './pixels.js';
import { checkSize } from './raw.js';

/** What the codecs return: RGBA, 8 bits per channel (the shape of the DOM's ImageData). */
export interface Rgba {
  width: number;
  height: number;
  data: Uint8Array | Uint8ClampedArray;
}

/** Four 8-bit channels per pixel: C, M, Y, K as Pillow's `Image.open` gives a CMYK JPEG. */
export interface Cmyk {
  width: number;
  height: number;
  data: Uint8Array | Uint8ClampedArray;
}

/** Decoders of lossy formats (e.g. @jsquash/jpeg and @jsquash/webp, WebAssembly). */
export interface WasmCodecs {
  jpeg(bytes: ArrayBuffer): Promise<Rgba>;
  webp(bytes: ArrayBuffer): Promise<Rgba>;
  /**
   * A JPEG with four components (CMYK, or YCCK converted to CMYK) with the samples inverted as
   * Pillow reads them ("CMYK;I": it assumes Adobe's convention, as Photoshop writes them).
   */
  jpegCmyk(bytes: ArrayBuffer): Promise<Cmyk>;
}

type Format = 'png' | 'jpeg' | 'gif' | 'webp';

function sniff(b: Uint8Array): Format | undefined {
  const ascii = (from: number, to: number) => String.fromCharCode(...b.subarray(from, to));
  if (b[0] === 0x89 && ascii(1, 4) === 'PNG') return 'png';
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (ascii(0, 4) === 'GIF8') return 'gif';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  return undefined;
}

interface Header {
  width: number;
  height: number;
  components?: number;
}

/** A JPEG's size and colour components, from its first start-of-frame marker. */
function jpegHeader(b: Uint8Array): Header | undefined {
  for (let i = 2; i + 9 < b.length; ) {
    if (b[i] !== 0xff) return undefined;
    const marker = at(b, i + 1);
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return {
        height: (at(b, i + 5) << 8) | at(b, i + 6),
        width: (at(b, i + 7) << 8) | at(b, i + 8),
        components: b[i + 9],
      };
    }
    i += 2 + ((at(b, i + 2) << 8) | at(b, i + 3));
  }
  return undefined;
}

/**
 * The image size the header declares, read before decoding so that a small file claiming a
 * huge image is refused before any memory is spent on it.
 */
function declaredSize(format: Format, b: Uint8Array): Header | undefined {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 30) return undefined;
  switch (format) {
    case 'png':
      return { width: view.getUint32(16), height: view.getUint32(20) };
    case 'gif':
      return { width: view.getUint16(6, true), height: view.getUint16(8, true) };
    case 'jpeg':
      return jpegHeader(b);
    case 'webp': {
      const chunk = String.fromCharCode(...b.subarray(12, 16));
      if (chunk === 'VP8X')
        return { width: 1 + (view.getUint32(24, true) & 0xffffff), height: 1 + (view.getUint32(27, true) & 0xffffff) };
      if (chunk === 'VP8 ')
        return { width: view.getUint16(26, true) & 0x3fff, height: view.getUint16(28, true) & 0x3fff };
      if (chunk === 'VP8L') {
        const bits = view.getUint32(21, true);
        return { width: 1 + (bits & 0x3fff), height: 1 + ((bits >>> 14) & 0x3fff) };
      }
      return undefined;
    }
  }
}

function arrayBufferOf(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** RGBA → RGB, or RGBA kept when some pixel is not opaque (Pillow's RGB and RGBA resize alike when all are). */
function fromRgba(img: Rgba): Pixels {
  const { width, height, data } = img;
  const n = width * height;
  let opaque = true;
  for (let i = 3; opaque && i < data.length; i += 4) opaque = data[i] === 255;
  if (!opaque)
    return { mode: 'RGBA', width, height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  assertLength(data, n * 4, 'the RGBA data');
  const rgb = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    rgb[i * 3] = data[i * 4] ?? 0;
    rgb[i * 3 + 1] = data[i * 4 + 1] ?? 0;
    rgb[i * 3 + 2] = data[i * 4 + 2] ?? 0;
  }
  return { mode: 'RGB', width, height, data: rgb };
}

/**
 * Pillow's mode for a PNG and its samples: palettes expanded (convert('RGB') ignores tRNS),
 * 16-bit grey as int32 ('I'), other 16-bit samples as their high byte, grey below 8 bits
 * scaled to 0..255 (1-bit is mode '1', stored 0/255).
 */
function fromPng(bytes: Uint8Array): Pixels {
  const png = decodePng(bytes);
  const { width, height, depth, channels, palette } = png;
  const n = width * height;
  const samples = png.data;
  if (palette) {
    const rgb = new Uint8Array(n * 3);
    samples.subarray(0, n).forEach((sample, i) => rgb.set((palette[sample] ?? [0, 0, 0]).slice(0, 3), i * 3));
    return { mode: 'P', width, height, data: rgb };
  }
  if (channels === 1 && depth === 16) return { mode: 'I', width, height, data: Int32Array.from(samples) };
  const modes: Record<number, PilMode> = { 1: depth === 1 ? '1' : 'L', 2: 'LA', 3: 'RGB', 4: 'RGBA' };
  const mode = modes[channels];
  if (!mode) throw new InputError(`PNG with ${channels} channels`);
  const data = new Uint8Array(samples.length);
  const scale = depth < 8 ? 255 / (2 ** depth - 1) : 1;
  const shift = depth === 16 ? 8 : 0;
  let i = 0;
  for (const sample of samples) data[i++] = depth < 8 ? sample * scale : sample >> shift;
  return { mode, width, height, data };
}

/** A GIF's first frame as Pillow opens it: mode P on the logical screen, background index around the frame. */
function fromGif(bytes: Uint8Array): Pixels {
  const gif = parseGIF(arrayBufferOf(bytes));
  const [frame] = decompressFrames(gif, false);
  if (!frame) throw new InputError('GIF has no image');
  const { width, height, backgroundColorIndex } = gif.lsd;
  const { dims, colorTable, pixels } = frame;
  const index = new Uint8Array(width * height).fill(backgroundColorIndex);
  for (let y = 0; y < dims.height && y + dims.top < height; y++) {
    for (let x = 0; x < dims.width && x + dims.left < width; x++)
      index[(y + dims.top) * width + x + dims.left] = pixels[y * dims.width + x] ?? 0; // a short frame leaves 0
  }
  const rgb = new Uint8Array(width * height * 3);
  index.forEach((i, p) => rgb.set(colorTable[i] ?? [0, 0, 0], p * 3));
  return { mode: 'P', width, height, data: rgb };
}

/** Decodes JPEG, PNG, GIF or WebP bytes into Pillow-mode pixels; failures are InputErrors naming `label`. */
export async function decodeWithCodecs(
  bytes: Uint8Array,
  codecs: WasmCodecs,
  label: string,
  maxPixels: number,
): Promise<Pixels> {
  if (bytes.length === 0) throw new InputError(`${label}: the file is empty`);
  const format = sniff(bytes);
  if (!format)
    throw new InputError(`${label}: unsupported image format; the browser decoder reads JPEG, PNG, GIF and WebP`);
  const header = declaredSize(format, bytes);
  if (header) checkSize(header.width, header.height, label, maxPixels);
  let pixels: Pixels;
  try {
    if (format === 'png') pixels = fromPng(bytes);
    else if (format === 'gif') pixels = fromGif(bytes);
    else if (format === 'jpeg' && header?.components === 4) {
      const { width, height, data } = await codecs.jpegCmyk(arrayBufferOf(bytes));
      pixels = { mode: 'CMYK', width, height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
    } else pixels = fromRgba(await codecs[format](arrayBufferOf(bytes)));
  } catch (e) {
    if (e instanceof InputError) throw new InputError(`${label}: ${e.message}`);
    throw new InputError(`${label}: cannot decode the ${format} data (${(e as Error).message})`);
  }
  checkSize(pixels.width, pixels.height, label, maxPixels);
  return pixels;
}
