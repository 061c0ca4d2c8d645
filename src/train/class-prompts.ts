// Fine-tuning from labels (the CLIP paper's and FLYP's recipe): each image of an ImageFolder is
// paired with a prompt of its class, "a photo of a {}." and the like, and trained with the same
// contrastive loss as captioned pairs.

import { InputError } from '../errors.js';
import { seededUniform } from '../models/random.js';
import { fillTemplate } from '../zeroshot/templates.js';
import type { Sample } from './data.js';
import { imageFolderClasses, readLabelledFolder } from './evaluate.js';
import { at } from '../checked.js';

/**
 * One sample per image, its caption a template drawn (seeded) for that image and filled with its
 * class name (the sub-folder, or its line of `classes.txt`). The draw is fixed per image, so
 * epochs repeat captions; with many images every template still appears in every class.
 */
export function classPromptSamples(dir: string, templates: readonly string[], seed = 0): Sample[] {
  if (templates.length === 0) throw new InputError(`${dir}: class-prompt training needs at least one template`);
  const items = readLabelledFolder(dir);
  const { classes, labels } = imageFolderClasses(dir, items);
  const random = seededUniform(seed + 0x51ed);
  return items.map(({ image }, i) => ({
    image,
    caption: fillTemplate(at(templates, Math.floor(random() * templates.length)), at(classes, at(labels, i))),
  }));
}
