// Strict UTF-8 decoding of byte strings, plus ftfy's "utf-8-variants" codec,
// which also accepts two encodings that UTF-8 itself forbids:
//   - CESU-8: a character outside the BMP written as two 3-byte surrogates
//     (ED A0-AF xx ED B0-BF xx);
//   - Java's "modified UTF-8": U+0000 written as C0 80.

// Hand-written rather than Buffer/TextDecoder: mojibake candidates are short
// and most fail to decode, and a fatal TextDecoder reports that by throwing
// (tens of microseconds), while allocating a Buffer per try costs more than
// the decoding itself. The accepted sequences are those of Python's strict
// 'utf-8' codec (no overlongs, surrogates, or code points past U+10FFFF).
// Nothing strips a leading U+FEFF here, as Python does not.

/** Decode bytes [start, end) of a byte string as UTF-8, or null where Python would raise. */
function decodeRange(bytes: string, start: number, end: number): string | null {
  let out = '';
  for (let i = start; i < end; ) {
    const lead = bytes.charCodeAt(i);
    if (lead < 0x80) {
      out += bytes[i++];
      continue;
    }
    let continuations: number;
    let codePoint: number;
    // The allowed range of the first continuation byte, narrowed for the
    // lead bytes that could otherwise start an overlong, a surrogate, or a
    // code point past U+10FFFF.
    let low = 0x80;
    let high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) {
      continuations = 1;
      codePoint = lead & 0x1f;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      continuations = 2;
      codePoint = lead & 0x0f;
      if (lead === 0xe0) low = 0xa0;
      if (lead === 0xed) high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      continuations = 3;
      codePoint = lead & 0x07;
      if (lead === 0xf0) low = 0x90;
      if (lead === 0xf4) high = 0x8f;
    } else {
      return null;
    }
    if (i + continuations >= end) return null;
    for (let k = 1; k <= continuations; k++) {
      const byte = bytes.charCodeAt(i + k);
      if (byte < low || byte > high) return null;
      codePoint = (codePoint << 6) | (byte & 0x3f);
      low = 0x80;
      high = 0xbf;
    }
    out += String.fromCodePoint(codePoint);
    i += continuations + 1;
  }
  return out;
}

/** Decode a byte string as UTF-8, or null where Python would raise. */
export function decodeUtf8(bytes: string): string | null {
  return decodeRange(bytes, 0, bytes.length);
}

// Byte `i` of a byte string, or -1 past its end.
const byteAt = (bytes: string, i: number) => (i < bytes.length ? bytes.charCodeAt(i) : -1);
const isContinuation = (b: number) => b >= 0x80 && b <= 0xbf;

// ftfy finds these sequences with a Python bytes regex whose '$' also matches
// before a newline that ends the input, so a final "\n" can stand in for the
// last byte of either sequence (and is consumed with it).
const atEnd = (bytes: string, i: number) => i === bytes.length || (i === bytes.length - 1 && bytes[i] === '\n');

/** Whether a Java-style C0 80 (U+0000) starts at `i`. */
function javaNullAt(bytes: string, i: number): boolean {
  return byteAt(bytes, i) === 0xc0 && i + 1 < bytes.length && (byteAt(bytes, i + 1) === 0x80 || atEnd(bytes, i + 1));
}

/** The character of a CESU-8 surrogate pair (six bytes) starting at `i`, or null. */
function cesu8PairAt(bytes: string, i: number): string | null {
  const b = (k: number) => byteAt(bytes, i + k);
  const isPair =
    b(0) === 0xed &&
    b(1) >= 0xa0 &&
    b(1) <= 0xaf &&
    isContinuation(b(2)) &&
    b(3) === 0xed &&
    b(4) >= 0xb0 &&
    b(4) <= 0xbf &&
    (isContinuation(b(5)) || (b(5) >= 0 && atEnd(bytes, i + 5)));
  if (!isPair) return null;
  return String.fromCodePoint(
    0x10000 + ((b(1) & 0x0f) << 16) + ((b(2) & 0x3f) << 10) + ((b(4) & 0x0f) << 6) + (b(5) & 0x3f),
  );
}

/**
 * Decode with ftfy's 'utf-8-variants' codec, or null where it would raise.
 * C0 and ED are never continuation bytes, so the runs between the special
 * sequences are whole UTF-8 sequences and decode on their own.
 */
export function decodeUtf8Variants(bytes: string): string | null {
  let out = '';
  let runStart = 0;
  for (let i = 0; i < bytes.length; i++) {
    let special: string | null = null;
    let length = 0;
    if (javaNullAt(bytes, i)) {
      special = '\u0000';
      length = 2;
    } else if ((special = cesu8PairAt(bytes, i)) !== null) {
      length = 6;
    }
    if (special === null) continue;
    const run = decodeRange(bytes, runStart, i);
    if (run === null) return null;
    out += run + special;
    i += length - 1;
    runStart = i + 1;
  }
  const run = decodeRange(bytes, runStart, bytes.length);
  return run === null ? null : out + run;
}
