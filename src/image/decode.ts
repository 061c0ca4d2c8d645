// Decoding with sharp (libvips) into the pixels Pillow 9.4's `Image.open(file)` would give:
// the same mode, no ICC conversion, no EXIF rotation, the first frame only, 16-bit RGB kept
// as its high byte and 16-bit grey as int32 ('I').
import { readFile } from 'node:fs/promises';
import sharp, { type Metadata, type OutputInfo, type SharpOptions } from 'sharp';
import { assertLength, at } from '../checked.js';
import { InputError } from '../errors.js';
import type { Box } from './geometry.js';
import { applyOrientation } from './orientation.js';
import { channelCount, type PilMode, type Pixels } from './pixels.js';
import { checkSize, DEFAULT_MAX_PIXELS, fromRaw, type RawImage } from './raw.js';

export { DEFAULT_MAX_PIXELS, type RawImage } from './raw.js';

/** A file path, encoded file bytes, or decoded pixels. */
export type ImageInput = string | Uint8Array | RawImage;

export interface DecodeOptions {
  /** Refuse images with more pixels than this (default: Pillow's MAX_IMAGE_PIXELS). */
  maxPixels?: number;
  /** Rotate/flip by the EXIF Orientation tag (the reference does NOT; default false). */
  applyExifOrientation?: boolean;
  /**
   * Fast path, not bit-exact: JPEGs whose short side is at least twice this are reduced to a
   * short side of this many pixels while decoding (shrink-on-load + lanczos3, see shrinkOnLoad).
   */
  jpegShrinkTo?: number;
  /**
   * The part of the image the caller will read, given its mode and full size: only that part
   * is kept (less to decode and far less to hand over: a 12 MP photo is 36 MB of RGB). The
   * result then carries `origin` and `sourceSize`. Not used when the image is shrunk or
   * EXIF-rotated while decoding.
   */
  region?: (mode: PilMode, width: number, height: number) => Box;
}

/** How an input is named in error messages. */
export function describeInput(input: ImageInput): string {
  if (typeof input === 'string') return input;
  if (input instanceof Uint8Array) return `<${input.length}-byte buffer>`;
  return '<raw pixels>';
}

const FORMATS = new Set(['jpeg', 'png', 'gif', 'webp', 'tiff', 'heif']);

/** Decodes any ImageInput into Pillow-mode pixels. Every failure is an InputError naming the input. */
export async function decodeImage(input: ImageInput, options: DecodeOptions = {}): Promise<Pixels> {
  const label = describeInput(input);
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) return fromRaw(input, label, maxPixels);
  let bytes: Uint8Array;
  if (typeof input === 'string') {
    try {
      bytes = await readFile(input);
    } catch (e) {
      throw new InputError(
        `${label}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      );
    }
  } else {
    bytes = input;
  }
  if (bytes.length === 0) throw new InputError(`${label}: the file is empty`);
  return decodeBytes(bytes, label, maxPixels, options);
}

/** libvips may repeat its message over several lines: keep each distinct line once. */
function reason(e: unknown): string {
  const lines = String((e as Error).message ?? e)
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return [...new Set(lines)].join('; ');
}

/** PNG colour type from the IHDR chunk: it tells a real alpha channel from a tRNS chunk. */
function pngColourType(bytes: Uint8Array): number | undefined {
  return bytes.length > 25 && bytes[12] === 0x49 && bytes[13] === 0x48 ? bytes[25] : undefined;
}

/** The mode Pillow 9.4 opens this file in. */
function pillowMode(meta: Metadata, bytes: Uint8Array): PilMode {
  if (meta.format === 'gif' || meta.isPalette) return 'P';
  const sixteenBit = meta.depth === 'ushort';
  if (meta.format === 'png') {
    switch (pngColourType(bytes)) {
      case 0:
        return sixteenBit ? 'I' : meta.bitsPerSample === 1 ? '1' : 'L';
      case 2:
        return 'RGB';
      case 4:
        return 'LA';
      case 6:
        return 'RGBA';
    }
  }
  if (meta.space === 'cmyk') return 'CMYK';
  const colour = (meta.channels ?? 3) - (meta.hasAlpha ? 1 : 0) >= 3;
  if (!colour) return sixteenBit ? 'I' : meta.hasAlpha ? 'LA' : meta.bitsPerSample === 1 ? '1' : 'L';
  return meta.hasAlpha ? 'RGBA' : 'RGB';
}

async function decodeBytes(
  bytes: Uint8Array,
  label: string,
  maxPixels: number,
  options: DecodeOptions,
): Promise<Pixels> {
  const open = (failOn: SharpOptions['failOn'] = 'truncated') =>
    sharp(bytes, { failOn, limitInputPixels: false, ignoreIcc: true, page: 0, pages: 1 });
  let meta: Metadata;
  try {
    meta = await open().metadata();
  } catch (e) {
    throw new InputError(`${label}: not a readable image (${reason(e)})`);
  }
  if (!meta.format || !FORMATS.has(meta.format)) {
    throw new InputError(
      `${label}: unsupported image format ${meta.format ?? 'unknown'}; expected JPEG, PNG, GIF, WebP, TIFF or ` +
        `AVIF/HEIF`,
    );
  }
  checkSize(meta.width ?? 0, meta.height ?? 0, label, maxPixels);
  const mode = pillowMode(meta, bytes);
  const sixteenBit = meta.depth === 'ushort';

  const { width, height } = meta as { width: number; height: number };
  const shrink = shrinkOnLoadSize(meta, options.jpegShrinkTo);
  const orientation = options.applyExifOrientation ? (meta.orientation ?? 1) : 1;
  const rotate = orientation > 1;
  const part = shrink || rotate ? undefined : options.region?.(mode, width, height);
  const keepPart = part && part.width > 0 && part.height > 0 && (part.width < width || part.height < height);
  const decode = (failOn: SharpOptions['failOn']) => {
    let pipeline = open(failOn);
    if (shrink) pipeline = pipeline.resize({ ...shrink, fit: 'fill', kernel: 'lanczos3', fastShrinkOnLoad: true });
    // Cropping before any colour conversion: all of those work pixel by pixel.
    if (keepPart) pipeline = pipeline.extract(part);
    if (mode === 'CMYK') pipeline = pipeline.pipelineColourspace('cmyk').toColourspace('cmyk');
    else if (mode === 'I') pipeline = pipeline.toColourspace('grey16');
    else if (sixteenBit) pipeline = pipeline.toColourspace('rgb16');
    return pipeline.raw(sixteenBit ? { depth: 'ushort' } : {}).toBuffer({ resolveWithObject: true });
  };
  let decoded: { data: Buffer; info: OutputInfo };
  try {
    decoded = await decodeAsStrictAsPillow(bytes, meta, decode);
  } catch (e) {
    throw new InputError(`${label}: cannot decode the ${meta.format} data (${reason(e)})`);
  }
  const layout = toPillowLayout(decoded.data, decoded.info, mode, sixteenBit);
  const sourceSize = { width, height };
  const pixels = keepPart
    ? { ...layout, sourceSize, origin: { left: part.left, top: part.top } }
    : shrink
      ? { ...layout, sourceSize }
      : layout;
  return rotate ? applyOrientation(pixels, orientation) : pixels;
}

/**
 * Decodes refusing corrupt files as Pillow refuses them ("broken data stream") instead of turning
 * them into garbage pixels. Pillow fails on every libjpeg error, including those it meets after the
 * last row, when it reads the markers that follow the image: a corrupt baseline JPEG whose data runs
 * into a bogus marker ("premature end of data segment", then "Unsupported marker type") fails, one
 * that runs into an end-of-image marker decodes (grey rows); warnings such as "bad Huffman code"
 * pass, as does any warning in progressive JPEGs. libvips stops after the last row, so it fails on
 * every warning or on none: a baseline JPEG is decoded failing on warnings, and on "premature end"
 * the marker it met decides (see bogusMarkerInScan); other warnings are decoded again failing only on
 * errors. Measured with Pillow 11.3 on 330 corrupt JPEGs (bit flips in the fixtures, markers written
 * into generated ones): see test/image-decode-strict.test.ts.
 */
async function decodeAsStrictAsPillow<T>(
  bytes: Uint8Array,
  meta: Metadata,
  decode: (failOn: SharpOptions['failOn']) => Promise<T>,
): Promise<T> {
  if (meta.format !== 'jpeg') return decode('truncated');
  if (meta.isProgressive) return decode('error');
  try {
    return await decode('warning');
  } catch (e) {
    if (/premature end of data segment/i.test(String((e as Error).message)) && bogusMarkerInScan(bytes)) throw e;
    return decode('error');
  }
}

/**
 * Whether the first marker inside the first scan's entropy-coded data is one libjpeg refuses after
 * the image (anything but end-of-image, restart markers and TEM): it reports that as an error.
 */
function bogusMarkerInScan(bytes: Uint8Array): boolean {
  const segmentLength = (marker: number) => (at(bytes, marker + 2) << 8) | at(bytes, marker + 3);
  let pos = 2;
  // Marker segments up to the first start-of-scan (FFDA), each with a 2-byte big-endian length.
  while (pos + 4 <= bytes.length && !(bytes[pos] === 0xff && bytes[pos + 1] === 0xda)) {
    if (bytes[pos] !== 0xff) return false;
    pos += 2 + segmentLength(pos);
  }
  if (pos + 4 > bytes.length) return false;
  for (let i = pos + 2 + segmentLength(pos); i + 1 < bytes.length; i++) {
    if (bytes[i] !== 0xff) continue;
    const code = at(bytes, i + 1);
    if (code === 0x00 || code === 0xff) continue; // a stuffed 0xFF data byte, or fill
    return !(code === 0xd9 || (code >= 0xd0 && code <= 0xd7) || code === 0x01);
  }
  return false;
}

/**
 * The fast path (not bit-exact): for JPEGs with a short side of at least twice `minShortSide`,
 * sharp reduces the image to that short side while decoding: libjpeg's DCT scaling by 2, 4 or 8
 * (shrink-on-load, as Pillow's `draft()`), then libvips' lanczos3 reduce for the remainder. The
 * exact Pillow resize runs afterwards on the smaller image. CMYK JPEGs decode at full size.
 */
function shrinkOnLoadSize(
  meta: Metadata,
  minShortSide: number | undefined,
): { width: number; height: number } | undefined {
  if (!minShortSide || meta.format !== 'jpeg' || meta.space === 'cmyk') return undefined;
  const { width, height } = meta as { width: number; height: number };
  const scale = minShortSide / Math.min(width, height);
  if (scale > 0.5) return undefined;
  return {
    width: Math.max(minShortSide, Math.round(width * scale)),
    height: Math.max(minShortSide, Math.round(height * scale)),
  };
}

/**
 * Picks Pillow's channels out of what libvips returns: grey comes back as grey or replicated
 * sRGB, palettes as RGB(A) (Pillow's convert('RGB') ignores tRNS, so alpha is dropped), 16-bit
 * samples as uint16 (Pillow keeps the high byte, except mode I which keeps the value).
 */
function toPillowLayout(buffer: Buffer, info: OutputInfo, mode: PilMode, sixteenBit: boolean): Pixels {
  const { width, height } = info;
  const have = info.channels;
  const n = width * height;
  // 16-bit samples are viewed in place when aligned (a copy of a 9400² RGBA image is 700 MB more).
  const samples = !sixteenBit
    ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
    : buffer.byteOffset % 2 === 0
      ? new Uint16Array(buffer.buffer, buffer.byteOffset, buffer.byteLength / 2)
      : new Uint16Array(buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength));
  if (mode === 'I') return { mode, width, height, data: Int32Array.from(samples) };
  if (!sixteenBit && have === channelCount(mode)) return { mode, width, height, data: samples as Uint8Array };

  // Which source channel feeds each of Pillow's channels.
  const greyHasAlpha = have === 2 || have === 4;
  const sources: Record<PilMode, number[]> = {
    '1': [0],
    L: [0],
    I: [0],
    LA: [0, have - 1],
    P: [0, 1, 2],
    RGB: [0, 1, 2],
    RGBA: [0, 1, 2, 3],
    CMYK: [0, 1, 2, 3],
  };
  const pick = sources[mode];
  if (mode === 'LA' && !greyHasAlpha) throw new Error(`internal: expected grey + alpha, libvips gave ${have} channels`);
  const outChannels = pick.length;
  const data = new Uint8Array(n * outChannels);
  const shift = sixteenBit ? 8 : 0;
  assertLength(samples, n * have, 'the decoded samples');
  pick.forEach((source, c) => {
    // see checked.ts
    for (let i = 0; i < n; i++) data[i * outChannels + c] = (samples[i * have + source] ?? 0) >> shift;
  });
  return { mode, width, height, data };
}
