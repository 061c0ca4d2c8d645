// The images a command works on: paths given as arguments and/or listed in a file (--files-from),
// each folder replaced by the images in it. A folder without images is reported, not ignored.
import { statSync } from 'node:fs';
import { expandImagePaths, IMAGE_EXTENSIONS } from '../embed.js';
import { readListFile } from './lists.js';

export interface ImageList {
  images: string[];
  /** Arguments that name no image (an empty folder), with why. */
  problems: string[];
}

export function imageList(args: readonly string[], filesFrom: string | undefined): ImageList {
  const paths = [...args, ...(filesFrom ? readListFile(filesFrom, '--files-from') : [])];
  const images: string[] = [];
  const problems: string[] = [];
  for (const path of paths) {
    const found = expandImagePaths([path]);
    if (found.length === 0 && statSync(path, { throwIfNoEntry: false })?.isDirectory()) {
      problems.push(`${path}: the folder holds no image files (${[...IMAGE_EXTENSIONS].join(', ')})`);
    }
    images.push(...found);
  }
  return { images, problems };
}
