// pdf.js's image decoders ship without type declarations; what image/cmyk-jpeg.ts uses of them.
declare module 'pdfjs-dist/image_decoders/pdf.image_decoders.mjs' {
  export class JpegImage {
    width: number;
    height: number;
    numComponents: number;
    parse(data: Uint8Array): void;
    /** isSourcePDF: true returns the decoder's samples as they are (no Adobe inversion of CMYK). */
    getData(options: { width: number; height: number; isSourcePDF?: boolean }): Uint8ClampedArray;
  }
}
