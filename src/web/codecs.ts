// The WebAssembly JPEG and WebP decoders (libjpeg-turbo as built in MozJPEG, libwebp), their
// .wasm bundled into clip.bundle.js (esbuild's binary loader) so the page needs no other file.
// Compiled on first use, asynchronously (browsers refuse large synchronous compiles).
// CMYK JPEGs, which these builds refuse, go to pdf.js's JavaScript decoder (image/cmyk-jpeg.ts).
import decodeJpeg, { init as initJpeg } from '@jsquash/jpeg/decode.js';
import decodeWebp, { init as initWebp } from '@jsquash/webp/decode.js';
import jpegWasm from '@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm';
import webpWasm from '@jsquash/webp/codec/dec/webp_dec.wasm';
import type { WasmCodecs } from '../image/codecs.js';
import { decodeCmykJpeg } from '../image/cmyk-jpeg.js';

function once(start: () => Promise<void>): () => Promise<void> {
  let started: Promise<void> | undefined;
  return () => (started ??= start());
}

const jpegReady = once(async () => initJpeg(await WebAssembly.compile(jpegWasm)));
const webpReady = once(async () => initWebp(await WebAssembly.compile(webpWasm)));

export const wasmCodecs: WasmCodecs = {
  async jpeg(bytes) {
    await jpegReady();
    return decodeJpeg(bytes, { preserveOrientation: false }); // Pillow's Image.open does not rotate
  },
  async webp(bytes) {
    await webpReady();
    return decodeWebp(bytes);
  },
  jpegCmyk: async (bytes) => decodeCmykJpeg(bytes),
};
