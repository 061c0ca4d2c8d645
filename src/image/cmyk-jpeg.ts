/// <reference path="./pdfjs.d.ts" />
// CMYK JPEGs for the browser decoder (image/codecs.ts): libjpeg-turbo's WebAssembly builds on npm
// decode to RGB(A) only, which libjpeg refuses for four components. The common kind (baseline,
// not subsampled, plain CMYK, as Photoshop and Pillow write them) is decoded exactly by
// cmyk-baseline.ts; the rest (progressive, subsampled, YCCK) by pdf.js's JavaScript decoder,
// whose IDCT and upsampling are not libjpeg's, so its samples can differ from Pillow's by a few
// levels. pdfjs-dist is a development dependency bundled into dist/web; the Node library never
// imports this file (sharp decodes CMYK there), and the package leaves it out.
import { JpegImage } from 'pdfjs-dist/image_decoders/pdf.image_decoders.mjs';
import { decodeBaselineCmyk } from './cmyk-baseline.js';
import type { Cmyk } from './codecs.js';

/** A four-component JPEG as Pillow's Image.open gives it: CMYK (YCCK converted), inverted ("CMYK;I"). */
export function decodeCmykJpeg(bytes: ArrayBuffer): Cmyk {
  const exact = decodeBaselineCmyk(new Uint8Array(bytes));
  if (exact) return { ...exact, data: exact.data.map((v) => 255 - v) };
  const jpeg = new JpegImage();
  jpeg.parse(new Uint8Array(bytes));
  const { width, height } = jpeg;
  // isSourcePDF: the samples as libjpeg outputs them; Pillow assumes Adobe's inverted convention.
  const data = jpeg.getData({ width, height, isSourcePDF: true }).map((v) => 255 - v);
  return { width, height, data };
}
