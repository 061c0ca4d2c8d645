// Exact decoding of the common CMYK JPEG (what Photoshop and Pillow write): baseline Huffman, four
// components without subsampling, no YCCK transform. libjpeg-turbo's WebAssembly builds on npm
// decode to RGB(A) only and libjpeg refuses that conversion for CMYK, so this is libjpeg's own
// path written out: Huffman decoding (jdhuff.c), dequantisation and the ISLOW integer IDCT
// (jidctint.c, which libjpeg-turbo's SIMD versions match bit for bit on valid data), then the
// range limit. With no upsampling and no colour conversion, these are the samples libjpeg hands
// Pillow. Anything else (progressive, subsampled, YCCK, 12-bit) returns undefined for the caller
// to decode otherwise (image/cmyk-jpeg.ts).

/** Zigzag position → natural (row-major) position, with libjpeg's overflow guard (k > 63 → 63). */
const NATURAL_ORDER = Int32Array.from([
  0,
  1,
  8,
  16,
  9,
  2,
  3,
  10,
  17,
  24,
  32,
  25,
  18,
  11,
  4,
  5,
  12,
  19,
  26,
  33,
  40,
  48,
  41,
  34,
  27,
  20,
  13,
  6,
  7,
  14,
  21,
  28,
  35,
  42,
  49,
  56,
  57,
  50,
  43,
  36,
  29,
  22,
  15,
  23,
  30,
  37,
  44,
  51,
  58,
  59,
  52,
  45,
  38,
  31,
  39,
  46,
  53,
  60,
  61,
  54,
  47,
  55,
  62,
  63,
  ...new Array<number>(16).fill(63),
]);

interface Huffman {
  /** Per code length 1..16: the largest code of that length (-1 when none), the first code, its first symbol. */
  maxCode: Int32Array;
  minCode: Int32Array;
  firstSymbol: Int32Array;
  symbols: Uint8Array;
}

function huffmanTable(counts: Uint8Array, symbols: Uint8Array): Huffman {
  const maxCode = new Int32Array(18).fill(-1);
  const minCode = new Int32Array(17);
  const firstSymbol = new Int32Array(17);
  let code = 0;
  let k = 0;
  for (let length = 1; length <= 16; length++) {
    const n = counts[length - 1] ?? 0;
    if (n) {
      firstSymbol[length] = k;
      minCode[length] = code;
      code += n;
      k += n;
      maxCode[length] = code - 1;
    }
    code <<= 1;
  }
  maxCode[17] = 0x7fffffff; // libjpeg's sentinel: a code longer than 16 bits is corrupt data
  return { maxCode, minCode, firstSymbol, symbols };
}

interface Component {
  id: number;
  quant: number;
  dc: number;
  ac: number;
  /** Dequantised-later coefficients, 64 per block, blocks in raster order (int16 as libjpeg's JCOEF). */
  coefficients: Int16Array;
  pred: number;
}

class Bits {
  private buffer = 0;
  private count = 0;
  /** Set once a marker is reached inside entropy-coded data: libjpeg feeds zeros from then on. */
  private marker = false;
  constructor(
    private readonly b: Uint8Array,
    public at: number,
  ) {}

  private fill(): void {
    while (this.count <= 24) {
      let byte = 0;
      if (!this.marker && this.at < this.b.length) {
        byte = this.b[this.at] ?? 0;
        if (byte === 0xff) {
          const next = this.b[this.at + 1] ?? 0;
          if (next === 0) this.at += 2;
          else {
            this.marker = true;
            byte = 0;
          }
        } else this.at++;
      }
      this.buffer = ((this.buffer << 8) | byte) >>> 0;
      this.count += 8;
    }
  }

  bits(n: number): number {
    if (n === 0) return 0;
    if (this.count < n) this.fill();
    this.count -= n;
    return (this.buffer >>> this.count) & ((1 << n) - 1);
  }

  decode(table: Huffman): number {
    let code = this.bits(1);
    let length = 1;
    while (code > (table.maxCode[length] ?? -1)) {
      if (++length > 16) throw new Error('corrupt Huffman code');
      code = (code << 1) | this.bits(1);
    }
    const symbol = table.symbols[(table.firstSymbol[length] ?? 0) + code - (table.minCode[length] ?? 0)];
    if (symbol === undefined) throw new Error('corrupt Huffman code');
    return symbol;
  }

  /** After a restart interval: drop the bits left, step over the RSTn marker. */
  restart(): void {
    this.buffer = 0;
    this.count = 0;
    this.marker = false;
    while (this.at + 1 < this.b.length && !(this.b[this.at] === 0xff && ((this.b[this.at + 1] ?? 0) & 0xf8) === 0xd0))
      this.at++;
    this.at += 2;
  }

  /** The position of the next marker, for the parser to continue after the scan. */
  nextMarker(): number {
    let at = this.at;
    while (at + 1 < this.b.length && !(this.b[at] === 0xff && (this.b[at + 1] ?? 0) !== 0 && this.b[at + 1] !== 0xff))
      at++;
    return at;
  }
}

/** jdhuff.c's HUFF_EXTEND: the s-bit value v as a signed coefficient. */
const extend = (v: number, s: number) => (v < 1 << (s - 1) ? v - (1 << s) + 1 : v);

function decodeBlock(bits: Bits, c: Component, dc: Huffman, ac: Huffman, block: number): void {
  const out = c.coefficients;
  const base = block * 64;
  const t = bits.decode(dc);
  c.pred += t ? extend(bits.bits(t), t) : 0;
  out[base] = c.pred;
  for (let k = 1; k < 64; k++) {
    const rs = bits.decode(ac);
    const s = rs & 15;
    const r = rs >> 4;
    if (s) {
      k += r;
      out[base + (NATURAL_ORDER[k] ?? 63)] = extend(bits.bits(s), s);
    } else if (r === 15) k += 15;
    else break;
  }
}

// jidctint.c's constants: FIX(x) = round(x · 2^13).
const CONST_BITS = 13;
const PASS1_BITS = 2;
const F_0_298 = 2446;
const F_0_390 = 3196;
const F_0_541 = 4433;
const F_0_765 = 6270;
const F_0_899 = 7373;
const F_1_175 = 9633;
const F_1_501 = 12299;
const F_1_847 = 15137;
const F_1_961 = 16069;
const F_2_053 = 16819;
const F_2_562 = 20995;
const F_3_072 = 25172;

/** RIGHT_SHIFT(x + 2^(n-1), n), exactly, on numbers beyond 32 bits (libjpeg's JLONG is 64-bit). */
const descale = (x: number, n: number) => Math.floor((x + 2 ** (n - 1)) / 2 ** n);

/** One 1-D pass of jpeg_idct_islow over v[0..7] (as numbers), returning the eight outputs before descaling. */
function idct1d(v: ArrayLike<number>, out: Float64Array): void {
  const at = (i: number) => v[i] ?? 0;
  let z2 = at(2);
  let z3 = at(6);
  let z1 = (z2 + z3) * F_0_541;
  let tmp2 = z1 - z3 * F_1_847;
  let tmp3 = z1 + z2 * F_0_765;
  z2 = at(0);
  z3 = at(4);
  let tmp0 = (z2 + z3) * 2 ** CONST_BITS;
  let tmp1 = (z2 - z3) * 2 ** CONST_BITS;
  const tmp10 = tmp0 + tmp3;
  const tmp13 = tmp0 - tmp3;
  const tmp11 = tmp1 + tmp2;
  const tmp12 = tmp1 - tmp2;
  tmp0 = at(7);
  tmp1 = at(5);
  tmp2 = at(3);
  tmp3 = at(1);
  z1 = tmp0 + tmp3;
  z2 = tmp1 + tmp2;
  z3 = tmp0 + tmp2;
  let z4 = tmp1 + tmp3;
  const z5 = (z3 + z4) * F_1_175;
  tmp0 *= F_0_298;
  tmp1 *= F_2_053;
  tmp2 *= F_3_072;
  tmp3 *= F_1_501;
  z1 *= -F_0_899;
  z2 *= -F_2_562;
  z3 = z3 * -F_1_961 + z5;
  z4 = z4 * -F_0_390 + z5;
  tmp0 += z1 + z3;
  tmp1 += z2 + z4;
  tmp2 += z2 + z3;
  tmp3 += z1 + z4;
  out[0] = tmp10 + tmp3;
  out[7] = tmp10 - tmp3;
  out[1] = tmp11 + tmp2;
  out[6] = tmp11 - tmp2;
  out[2] = tmp12 + tmp1;
  out[5] = tmp12 - tmp1;
  out[3] = tmp13 + tmp0;
  out[4] = tmp13 - tmp0;
}

/** libjpeg's post-IDCT range limit: x + 128 clamped to 0..255 for x in -512..511, wrapping beyond (& 1023). */
function rangeLimit(x: number): number {
  const i = x & 1023;
  return i < 128 ? i + 128 : i < 512 ? 255 : i < 896 ? 0 : i - 896;
}

// Scratch for idctBlock (one block at a time).
const work = new Float64Array(64);
const column = new Float64Array(8);
const row = new Float64Array(8);

/** Dequantises and inverse-transforms one block into `plane` (row stride `stride`) at (x0, y0). */
function idctBlock(
  coef: Int16Array,
  base: number,
  q: Uint16Array,
  plane: Uint8Array,
  stride: number,
  x0: number,
  y0: number,
) {
  for (let c = 0; c < 8; c++) {
    for (let r = 0; r < 8; r++) column[r] = (coef[base + r * 8 + c] ?? 0) * (q[r * 8 + c] ?? 0);
    idct1d(column, row);
    for (let r = 0; r < 8; r++) work[r * 8 + c] = descale(row[r] ?? 0, CONST_BITS - PASS1_BITS);
  }
  for (let r = 0; r < 8; r++) {
    idct1d(work.subarray(r * 8, r * 8 + 8), row);
    for (let c = 0; c < 8; c++)
      plane[(y0 + r) * stride + x0 + c] = rangeLimit(descale(row[c] ?? 0, CONST_BITS + PASS1_BITS + 3));
  }
}

/** Decodes one sequential scan into its components' coefficients; returns where parsing continues (-1: unsupported). */
function decodeScan(
  b: Uint8Array,
  start: number,
  header: Uint8Array,
  components: Component[],
  dcTables: Huffman[],
  acTables: Huffman[],
  width: number,
  height: number,
  restartInterval: number,
): number {
  const scan: Component[] = [];
  for (let i = 0; i < (header[0] ?? 0); i++) {
    const c = components.find((x) => x.id === header[1 + 2 * i]);
    if (!c) return -1;
    c.dc = (header[2 + 2 * i] ?? 0) >> 4;
    c.ac = (header[2 + 2 * i] ?? 0) & 15;
    c.pred = 0;
    scan.push(c);
  }
  const spectral = header.subarray(1 + 2 * scan.length);
  if (spectral[0] !== 0 || spectral[1] !== 63 || spectral[2] !== 0) return -1;
  const bits = new Bits(b, start);
  // Without subsampling, interleaved or not, an MCU is one block of each scan component, in raster order.
  const total = Math.ceil(width / 8) * Math.ceil(height / 8);
  for (let block = 0; block < total; block++) {
    if (restartInterval && block && block % restartInterval === 0) {
      bits.restart();
      for (const c of scan) c.pred = 0;
    }
    for (const c of scan) {
      const dc = dcTables[c.dc];
      const ac = acTables[c.ac];
      if (!dc || !ac) return -1;
      decodeBlock(bits, c, dc, ac, block);
    }
  }
  return bits.nextMarker();
}

/** The four planes' samples as libjpeg outputs them (not inverted), or undefined when not the baseline 1×1 case. */
export function decodeBaselineCmyk(b: Uint8Array): { width: number; height: number; data: Uint8Array } | undefined {
  const quant: Uint16Array[] = [];
  const dcTables: Huffman[] = [];
  const acTables: Huffman[] = [];
  const components: Component[] = [];
  let width = 0;
  let height = 0;
  let restartInterval = 0;
  let at = 2;
  const u16 = (i: number) => ((b[i] ?? 0) << 8) | (b[i + 1] ?? 0);
  for (;;) {
    while (b[at] === 0xff && b[at + 1] === 0xff) at++;
    const marker = b[at + 1] ?? 0;
    if (b[at] !== 0xff || marker === 0xd9 || at + 3 >= b.length) break; // end of image (or of the data)
    const length = u16(at + 2);
    const segment = b.subarray(at + 4, at + 2 + length);
    switch (marker) {
      case 0xdb: // quantisation tables, 8- or 16-bit, in zigzag order
        for (let i = 0; i < segment.length; ) {
          const precision = (segment[i] ?? 0) >> 4;
          const table = new Uint16Array(64);
          for (let k = 0; k < 64; k++)
            table[NATURAL_ORDER[k] ?? 63] = precision ? u16(at + 4 + i + 1 + 2 * k) : (segment[i + 1 + k] ?? 0);
          quant[(segment[i] ?? 0) & 15] = table;
          i += 1 + 64 * (precision ? 2 : 1);
        }
        break;
      case 0xc4: // Huffman tables
        for (let i = 0; i < segment.length; ) {
          const counts = segment.subarray(i + 1, i + 17);
          const n = counts.reduce((sum, v) => sum + v, 0);
          const table = huffmanTable(counts, segment.slice(i + 17, i + 17 + n));
          ((segment[i] ?? 0) >> 4 ? acTables : dcTables)[(segment[i] ?? 0) & 15] = table;
          i += 17 + n;
        }
        break;
      case 0xc0: // baseline and extended sequential frames, 8-bit, four components, none subsampled
      case 0xc1: {
        if (segment[0] !== 8 || segment[5] !== 4) return undefined;
        height = u16(at + 5);
        width = u16(at + 7);
        const blocks = Math.ceil(width / 8) * Math.ceil(height / 8);
        for (let c = 0; c < 4; c++) {
          if (segment[6 + 3 * c + 1] !== 0x11) return undefined;
          const id = segment[6 + 3 * c] ?? 0;
          const q = segment[6 + 3 * c + 2] ?? 0;
          components.push({ id, quant: q, dc: 0, ac: 0, coefficients: new Int16Array(blocks * 64), pred: 0 });
        }
        break;
      }
      case 0xdd:
        restartInterval = u16(at + 4);
        break;
      case 0xee:
        if (!adobeTransformIsNone(segment)) return undefined; // YCCK
        break;
      case 0xda: {
        if (!width) return undefined;
        at = decodeScan(b, at + 2 + length, segment, components, dcTables, acTables, width, height, restartInterval);
        if (at < 0) return undefined;
        continue;
      }
      default:
        // Other frame types (progressive, lossless, arithmetic coding): not this decoder's.
        if (marker >= 0xc2 && marker <= 0xcf && marker !== 0xc8 && marker !== 0xcc) return undefined;
    }
    at += 2 + length;
  }
  if (!width || components.length !== 4) return undefined;
  const stride = Math.ceil(width / 8) * 8;
  const rows = Math.ceil(height / 8) * 8;
  const data = new Uint8Array(width * height * 4);
  components.forEach((c, index) => {
    const q = quant[c.quant];
    if (!q) throw new Error(`no quantisation table ${c.quant}`);
    const plane = new Uint8Array(stride * rows);
    for (let block = 0; block < (stride / 8) * (rows / 8); block++)
      idctBlock(
        c.coefficients,
        block * 64,
        q,
        plane,
        stride,
        (block % (stride / 8)) * 8,
        Math.floor(block / (stride / 8)) * 8,
      );
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) data[(y * width + x) * 4 + index] = plane[y * stride + x] ?? 0;
  });
  return { width, height, data };
}

/** An Adobe APP14 segment whose transform flag is 0 (plain CMYK, not YCCK). */
function adobeTransformIsNone(segment: Uint8Array): boolean {
  const isAdobe = String.fromCharCode(...segment.subarray(0, 5)) === 'Adobe';
  return !isAdobe || (segment[11] ?? 0) === 0;
}
