// Thumbnails for the web page: JPEG, at most SIZE px on the long side, turned upright by EXIF
// orientation (for display, unlike the model's input), generated once and cached on disk by
// content hash (the cache survives renames and is shared by exact duplicates).
import { mkdirSync, renameSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';

const SIZE = 320;
/** Refuse to decode images larger than this (decompression bombs). */
export const MAX_PIXELS = 100_000_000;

export class ThumbnailCache {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /** The cached thumbnail's path, made from `source` if missing. */
  async get(sha256: string, source: string): Promise<string> {
    const file = join(this.dir, `${sha256}.jpg`);
    if (
      await access(file).then(
        () => true,
        () => false,
      )
    )
      return file;
    const staging = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await sharp(source, { limitInputPixels: MAX_PIXELS })
      .rotate()
      .resize(SIZE, SIZE, { fit: 'inside', withoutEnlargement: true })
      .jpeg({ quality: 80, mozjpeg: false })
      .toFile(staging);
    renameSync(staging, file); // atomic: concurrent requests never see a half-written file
    return file;
  }
}
