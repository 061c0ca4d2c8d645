// What the index stores about a photo besides its vector: content hash, pixel size as displayed,
// EXIF date taken, camera and GPS position (read with exifr; sharp reads the header for the size).
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import exifr from 'exifr';
import sharp from 'sharp';

export interface PhotoInfo {
  sha256: string;
  width: number | null;
  height: number | null;
  /** EXIF DateTimeOriginal (or CreateDate) as written, read as UTC: ms since the epoch. */
  taken: number | null;
  make: string | null;
  model: string | null;
  latitude: number | null;
  longitude: number | null;
}

const EXIF_FIELDS = ['Make', 'Model', 'DateTimeOriginal', 'CreateDate', 'latitude', 'longitude'];

/** `YYYY:MM:DD HH:MM:SS` (EXIF's form) → ms since the epoch, taking the wall clock as UTC. */
export function exifDate(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const m = /^(\d{4})[:-](\d{2})[:-](\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?/.exec(value.trim());
  if (!m) return null;
  const [, y = '', mo = '', d = '', h = '0', mi = '0', s = '0'] = m;
  const t = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s);
  return Number.isFinite(t) && +y > 1800 ? t : null;
}

const text = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : null);
const number = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Hash and metadata of one file. A file whose header sharp cannot read throws (it is not a photo). */
export async function describePhoto(path: string): Promise<PhotoInfo> {
  const bytes = await readFile(path);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const meta = await sharp(bytes).metadata();
  // Missing or broken EXIF is common and harmless: the photo is indexed without it.
  const exif = (await exifr
    .parse(bytes, { gps: true, reviveValues: false, pick: EXIF_FIELDS })
    .catch(() => undefined)) as Record<string, unknown> | undefined;
  const turned = (meta.orientation ?? 1) >= 5;
  return {
    sha256,
    width: (turned ? meta.height : meta.width) ?? null,
    height: (turned ? meta.width : meta.height) ?? null,
    taken: exifDate(exif?.DateTimeOriginal) ?? exifDate(exif?.CreateDate),
    make: text(exif?.Make),
    model: text(exif?.Model),
    latitude: number(exif?.latitude),
    longitude: number(exif?.longitude),
  };
}
