// Pixels handed over already decoded (RawImage, the browser's ImageData) and the size limit every
// decoder applies: shared by the Node decoder (sharp) and the browser's WebAssembly codecs.
import { InputError } from '../errors.js';
import { channelCount, type PilMode, type Pixels } from './pixels.js';

/** Pillow's MAX_IMAGE_PIXELS (1024·1024·1024 / 4 / 3): larger images are refused. */
export const DEFAULT_MAX_PIXELS = 89_478_485;

/** Already-decoded pixels, interleaved (HWC). `mode` defaults by channel count: L, LA, RGB, RGBA. */
export interface RawImage {
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  data: Uint8Array | Uint8ClampedArray | Int32Array;
  mode?: PilMode;
}

export function checkSize(width: number, height: number, label: string, maxPixels: number): void {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new InputError(`${label}: image size ${width}×${height} is not a positive integer size`);
  }
  if (width * height > maxPixels) {
    throw new InputError(
      `${label}: image has ${width}×${height} = ${width * height} pixels, more than the limit of ${maxPixels} ` +
        `(Pillow's MAX_IMAGE_PIXELS; the API's maxPixels option changes it)`,
    );
  }
}

export function fromRaw(raw: RawImage, label: string, maxPixels: number): Pixels {
  checkSize(raw.width, raw.height, label, maxPixels);
  const mode = raw.mode ?? (['L', 'LA', 'RGB', 'RGBA'] as const)[raw.channels - 1];
  if (!mode || channelCount(mode) !== raw.channels) {
    throw new InputError(
      `${label}: ${raw.channels} channels do not fit mode ${raw.mode ?? '(none)'}; expected 1 (L), 2 (LA), 3 (RGB) ` +
        `or 4 (RGBA)`,
    );
  }
  const expected = raw.width * raw.height * raw.channels;
  if (raw.data.length !== expected) {
    throw new InputError(`${label}: ${raw.data.length} values, expected width × height × channels = ${expected}`);
  }
  if ((mode === 'I') !== raw.data instanceof Int32Array) {
    throw new InputError(`${label}: mode I needs Int32Array data, other modes 8-bit data`);
  }
  const data = raw.data instanceof Int32Array ? raw.data.slice() : new Uint8Array(raw.data);
  return { mode, width: raw.width, height: raw.height, data };
}
