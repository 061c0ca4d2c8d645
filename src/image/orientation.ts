// EXIF orientation (tag 0x0112, values 1..8) applied as a pixel permutation, like Pillow's
// ImageOps.exif_transpose. Optional: the CLIP reference does not apply it.
import { assertLength } from '../checked.js';
import { channelCount, type Pixels } from './pixels.js';

/** Returns the image as it should be displayed; orientation 1 (or unknown) returns it as is. */
export function applyOrientation(img: Pixels, orientation: number): Pixels {
  if (orientation < 2 || orientation > 8) return img;
  if (img.origin)
    throw new RangeError(
      'applyOrientation: the image is only a decoded part of a photo (origin is set); orient the whole image',
    );
  const { width: w, height: h } = img;
  const transposed = orientation >= 5; // 5..8 swap the axes
  const outW = transposed ? h : w;
  const outH = transposed ? w : h;
  const channels = channelCount(img.mode);
  const data = img.data instanceof Int32Array ? new Int32Array(img.data.length) : new Uint8Array(img.data.length);
  assertLength(img.data, img.width * img.height * channels, 'the pixel data');
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      // Source pixel shown at (x, y) of the displayed image.
      let sx: number, sy: number;
      switch (orientation) {
        case 2:
          sx = w - 1 - x;
          sy = y;
          break; // mirror
        case 3:
          sx = w - 1 - x;
          sy = h - 1 - y;
          break; // rotate 180
        case 4:
          sx = x;
          sy = h - 1 - y;
          break; // flip
        case 5:
          sx = y;
          sy = x;
          break; // transpose
        case 6:
          sx = y;
          sy = h - 1 - x;
          break; // rotate 90 clockwise
        case 7:
          sx = w - 1 - y;
          sy = h - 1 - x;
          break; // transverse
        default:
          sx = w - 1 - y;
          sy = x;
          break; // 8: rotate 90 counter-clockwise
      }
      const s = (sy * w + sx) * channels;
      const o = (y * outW + x) * channels;
      for (let c = 0; c < channels; c++) data[o + c] = img.data[s + c] ?? 0; // hot loop: see checked.ts
    }
  }
  const size = img.sourceSize;
  const sourceSize = size && transposed ? { width: size.height, height: size.width } : size;
  return { mode: img.mode, width: outW, height: outH, data, ...(sourceSize && { sourceSize }) };
}
