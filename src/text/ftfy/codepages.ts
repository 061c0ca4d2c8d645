// The single-byte encodings that ftfy tries when it suspects mojibake, as
// Python's codecs define them. Bytes are held in "byte strings": JS strings
// whose code units are all 0..255, so byte-level regexes can run on them.
//
// The tables are hand-written (not taken from TextDecoder) because ftfy's
// "sloppy" variants differ from both Python's strict codecs and WHATWG's:
// bytes a Windows code page leaves undefined decode to the Latin-1 character
// of the same number, and byte 0x1A stands for U+FFFD (a byte that was lost).

import { at, entry } from '../../checked.js';

/** An encoding that maps each byte to one character. */
export interface CodePage {
  readonly name: string;
  /** True for ftfy's sloppy-windows-125x codecs. */
  readonly sloppy: boolean;
  /** Whether every character of `text` has a byte in this encoding. */
  canEncode(text: string): boolean;
  /** Encode text that `canEncode` accepted, as a byte string. */
  encode(text: string): string;
  /** The character for one byte. */
  decodeByte(byte: number): string;
}

function makeCodePage(name: string, upperHalf: string, sloppy: boolean): CodePage {
  if (upperHalf.length !== 128) throw new Error(`code page ${name}: expected 128 characters for bytes 0x80-0xFF`);
  const chars: string[] = [];
  for (let b = 0; b < 128; b++) chars.push(String.fromCharCode(b));
  for (const ch of upperHalf) chars.push(ch);
  if (sloppy) chars[0x1a] = '\ufffd';
  const byteOf = new Map<number, number>();
  chars.forEach((ch, byte) => byteOf.set(ch.charCodeAt(0), byte));
  return {
    name,
    sloppy,
    canEncode(text) {
      for (let i = 0; i < text.length; i++) if (!byteOf.has(text.charCodeAt(i))) return false;
      return true;
    },
    encode(text) {
      let out = '';
      for (let i = 0; i < text.length; i++) out += String.fromCharCode(entry(byteOf, text.charCodeAt(i)));
      return out;
    },
    decodeByte(byte) {
      return at(chars, byte);
    },
  };
}

const LATIN_1_UPPER = Array.from({ length: 128 }, (_, i) => String.fromCharCode(0x80 + i)).join('');

// Bytes 0x80-0xFF of each code page, 32 per line.
const WINDOWS_1252 =
  '€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008dŽ\u008f\u0090‘’“”•–—˜™š›œ\u009džŸ' +
  '\u00a0¡¢£¤¥¦§¨©ª«¬\u00ad®¯°±²³´µ¶·¸¹º»¼½¾¿' +
  'ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖ×ØÙÚÛÜÝÞß' +
  'àáâãäåæçèéêëìíîïðñòóôõö÷øùúûüýþÿ';
const WINDOWS_1251 =
  'ЂЃ‚ѓ„…†‡€‰Љ‹ЊЌЋЏђ‘’“”•–—\u0098™љ›њќћџ' +
  '\u00a0ЎўЈ¤Ґ¦§Ё©Є«¬\u00ad®Ї°±Ііґµ¶·ё№є»јЅѕї' +
  'АБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ' +
  'абвгдежзийклмнопрстуфхцчшщъыьэюя';
const WINDOWS_1250 =
  '€\u0081‚\u0083„…†‡\u0088‰Š‹ŚŤŽŹ\u0090‘’“”•–—\u0098™š›śťžź' +
  '\u00a0ˇ˘Ł¤Ą¦§¨©Ş«¬\u00ad®Ż°±˛ł´µ¶·¸ąş»Ľ˝ľż' +
  'ŔÁÂĂÄĹĆÇČÉĘËĚÍÎĎĐŃŇÓÔŐÖ×ŘŮÚŰÜÝŢß' +
  'ŕáâăäĺćçčéęëěíîďđńňóôőö÷řůúűüýţ˙';
const WINDOWS_1253 =
  '€\u0081‚ƒ„…†‡\u0088‰\u008a‹\u008c\u008d\u008e\u008f\u0090‘’“”•–—\u0098™\u009a›\u009c\u009d\u009e\u009f' +
  '\u00a0΅Ά£¤¥¦§¨©ª«¬\u00ad®―°±²³΄µ¶·ΈΉΊ»Ό½ΎΏ' +
  'ΐΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡÒΣΤΥΦΧΨΩΪΫάέήί' +
  'ΰαβγδεζηθικλμνξοπρςστυφχψωϊϋόύώÿ';
const WINDOWS_1254 =
  '€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008d\u008e\u008f\u0090‘’“”•–—˜™š›œ\u009d\u009eŸ' +
  '\u00a0¡¢£¤¥¦§¨©ª«¬\u00ad®¯°±²³´µ¶·¸¹º»¼½¾¿' +
  'ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏĞÑÒÓÔÕÖ×ØÙÚÛÜİŞß' +
  'àáâãäåæçèéêëìíîïğñòóôõö÷øùúûüışÿ';
const WINDOWS_1257 =
  '€\u0081‚\u0083„…†‡\u0088‰\u008a‹\u008c¨ˇ¸\u0090‘’“”•–—\u0098™\u009a›\u009c¯˛\u009f' +
  '\u00a0¡¢£¤¥¦§Ø©Ŗ«¬\u00ad®Æ°±²³´µ¶·ø¹ŗ»¼½¾æ' +
  'ĄĮĀĆÄÅĘĒČÉŹĖĢĶĪĻŠŃŅÓŌÕÖ×ŲŁŚŪÜŻŽß' +
  'ąįāćäåęēčéźėģķīļšńņóōõö÷ųłśūüżž˙';
const ISO_8859_2 =
  LATIN_1_UPPER.slice(0, 32) +
  '\u00a0Ą˘Ł¤ĽŚ§¨ŠŞŤŹ\u00adŽŻ°ą˛ł´ľśˇ¸šşťź˝žż' +
  'ŔÁÂĂÄĹĆÇČÉĘËĚÍÎĎĐŃŇÓÔŐÖ×ŘŮÚŰÜÝŢß' +
  'ŕáâăäĺćçčéęëěíîďđńňóôőö÷řůúűüýţ˙';
const MAC_ROMAN =
  'ÄÅÇÉÑÖÜáàâäãåçéèêëíìîïñóòôöõúùûü' +
  '†°¢£§•¶ß®©™´¨≠ÆØ∞±≤≥¥µ∂∑∏π∫ªºΩæø' +
  '¿¡¬√ƒ≈∆«»…\u00a0ÀÃÕŒœ–—“”‘’÷◊ÿŸ⁄€‹›ﬁﬂ' +
  '‡·‚„‰ÂÊÁËÈÍÎÏÌÓÔ\uf8ffÒÚÛÙıˆ˜¯˘˙˚¸˝˛ˇ';
const CP437 =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒ' +
  'áíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐' +
  '└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀' +
  'αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';

export const LATIN_1 = makeCodePage('latin-1', LATIN_1_UPPER, false);
export const SLOPPY_WINDOWS_1252 = makeCodePage('sloppy-windows-1252', WINDOWS_1252, true);

/** ftfy's CHARMAP_ENCODINGS, in the order it tries them. */
export const MOJIBAKE_ENCODINGS: readonly CodePage[] = [
  LATIN_1,
  SLOPPY_WINDOWS_1252,
  makeCodePage('sloppy-windows-1251', WINDOWS_1251, true),
  makeCodePage('sloppy-windows-1250', WINDOWS_1250, true),
  makeCodePage('sloppy-windows-1253', WINDOWS_1253, true),
  makeCodePage('sloppy-windows-1254', WINDOWS_1254, true),
  makeCodePage('sloppy-windows-1257', WINDOWS_1257, true),
  makeCodePage('iso-8859-2', ISO_8859_2, false),
  makeCodePage('macroman', MAC_ROMAN, false),
  makeCodePage('cp437', CP437, false),
];
