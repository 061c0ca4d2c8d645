// The image files under some folders: recursive, hidden files and folders skipped, --exclude globs
// applied to the path relative to its folder and to the absolute path.
import { readdirSync, statSync } from 'node:fs';
import { extname, join, relative, resolve } from 'node:path';
import picomatch from 'picomatch';
import { InputError } from '../errors.js';

/** Formats sharp reads (AVIF/HEIF only where the installed libvips has them). */
export const PHOTO_EXTENSIONS = new Set([
  '.jpg',
  '.jpeg',
  '.png',
  '.webp',
  '.gif',
  '.tif',
  '.tiff',
  '.avif',
  '.heic',
  '.heif',
]);

export interface ScannedFile {
  path: string;
  size: number;
  mtimeMs: number;
}

/** Absolute paths of the photos under `roots` (files given directly are taken as they are), sorted. */
export function scanPhotos(roots: readonly string[], exclude: readonly string[] = []): ScannedFile[] {
  const excluded = picomatch(exclude.length ? [...exclude] : ['\0'], { dot: true });
  const found: ScannedFile[] = [];
  for (const root of roots.map((r) => resolve(r))) {
    const info = statSync(root, { throwIfNoEntry: false });
    if (!info) throw new InputError(`${root}: no such file or folder`);
    if (info.isFile()) {
      found.push({ path: root, size: info.size, mtimeMs: info.mtimeMs });
      continue;
    }
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.name.startsWith('.')) continue;
        const path = join(dir, entry.name);
        if (excluded(relative(root, path)) || excluded(path)) continue;
        if (entry.isDirectory()) walk(path);
        else if (entry.isFile() && PHOTO_EXTENSIONS.has(extname(entry.name).toLowerCase())) {
          const stat = statSync(path, { throwIfNoEntry: false });
          if (stat) found.push({ path, size: stat.size, mtimeMs: stat.mtimeMs });
        }
      }
    };
    walk(root);
  }
  found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return found.filter((f, i) => i === 0 || f.path !== found[i - 1]?.path);
}
