/// <reference path="./pdfjs.d.ts" />
// CMYK JPEGs for the browser decoder (image/codecs.ts): libjpeg-turbo's WebAssembly builds on npm
// decode to RGB(A) only, which libjpeg refuses for four components, so these go to pdf.js's
// JavaScript JPEG decoder. Its IDCT is not libjpeg's ISLOW (and it upsamples subsampled
// components by repetition), so a sample can differ from Pillow's: by at most 1 on the fixture
// (test/image-codecs.test.ts). pdfjs-dist is a development dependency bundled into dist/web; the
// Node library never imports this file (sharp decodes CMYK there), and the package leaves it out.
import { JpegImage } from 'pdfjs-dist/image_decoders/pdf.image_decoders.mjs';
import type { Cmyk } from './codecs.js';

/** A four-component JPEG as Pillow's Image.open gives it: CMYK (YCCK converted), inverted ("CMYK;I"). */
export function decodeCmykJpeg(bytes: ArrayBuffer): Cmyk {
  const jpeg = new JpegImage();
  jpeg.parse(new Uint8Array(bytes));
  const { width, height } = jpeg;
  // isSourcePDF: the samples as libjpeg outputs them; Pillow assumes Adobe's inverted convention.
  const data = jpeg.getData({ width, height, isSourcePDF: true }).map((v) => 255 - v);
  return { width, height, data };
}
