// Prompt templates for zero-shot classification: `{}` is replaced by the label.
import { readFileSync } from 'node:fs';
import { InputError } from '../errors.js';

/** The reference's single prompt ("a photo of a {label}."). */
export const SINGLE_TEMPLATE = ['a photo of a {}.'];

/**
 * The 7-template subset the CLIP authors' ImageNet notebook found as good as all 80 templates,
 * our default ensemble.
 */
export const DEFAULT_TEMPLATES = [
  'itap of a {}.',
  'a bad photo of the {}.',
  'a origami {}.',
  'a photo of the large {}.',
  'a {} in a video game.',
  'art of the {}.',
  'a photo of the small {}.',
];

/** Chinese prompts for Chinese-CLIP models ("a photo of {}", "a picture of {}", ...). */
export const CHINESE_SINGLE_TEMPLATE = ['{}的照片。'];
export const CHINESE_TEMPLATES = [
  '{}的照片。',
  '一张{}的照片。',
  '一张模糊的{}的照片。',
  '一张{}的特写照片。',
  '{}的图片。',
];

/** Fills one template with a label; a template without `{}` is an error. */
export function fillTemplate(template: string, label: string): string {
  if (!template.includes('{}')) throw new Error(`prompt template "${template}" has no {} placeholder for the label`);
  return template.replaceAll('{}', label);
}

/** The 80 prompts of the CLIP paper's ImageNet ensemble (the authors' prompt-engineering notebook). */
export const IMAGENET_TEMPLATES = [
  'a bad photo of a {}.',
  'a photo of many {}.',
  'a sculpture of a {}.',
  'a photo of the hard to see {}.',
  'a low resolution photo of the {}.',
  'a rendering of a {}.',
  'graffiti of a {}.',
  'a bad photo of the {}.',
  'a cropped photo of the {}.',
  'a tattoo of a {}.',
  'the embroidered {}.',
  'a photo of a hard to see {}.',
  'a bright photo of a {}.',
  'a photo of a clean {}.',
  'a photo of a dirty {}.',
  'a dark photo of the {}.',
  'a drawing of a {}.',
  'a photo of my {}.',
  'the plastic {}.',
  'a photo of the cool {}.',
  'a close-up photo of a {}.',
  'a black and white photo of the {}.',
  'a painting of the {}.',
  'a painting of a {}.',
  'a pixelated photo of the {}.',
  'a sculpture of the {}.',
  'a bright photo of the {}.',
  'a cropped photo of a {}.',
  'a plastic {}.',
  'a photo of the dirty {}.',
  'a jpeg corrupted photo of a {}.',
  'a blurry photo of the {}.',
  'a photo of the {}.',
  'a good photo of the {}.',
  'a rendering of the {}.',
  'a {} in a video game.',
  'a photo of one {}.',
  'a doodle of a {}.',
  'a close-up photo of the {}.',
  'a photo of a {}.',
  'the origami {}.',
  'the {} in a video game.',
  'a sketch of a {}.',
  'a doodle of the {}.',
  'a origami {}.',
  'a low resolution photo of a {}.',
  'the toy {}.',
  'a rendition of the {}.',
  'a photo of the clean {}.',
  'a photo of a large {}.',
  'a rendition of a {}.',
  'a photo of a nice {}.',
  'a photo of a weird {}.',
  'a blurry photo of a {}.',
  'a cartoon {}.',
  'art of a {}.',
  'a sketch of the {}.',
  'a embroidered {}.',
  'a pixelated photo of a {}.',
  'itap of the {}.',
  'a jpeg corrupted photo of the {}.',
  'a good photo of a {}.',
  'a plushie {}.',
  'a photo of the nice {}.',
  'a photo of the small {}.',
  'a photo of the weird {}.',
  'the cartoon {}.',
  'art of the {}.',
  'a drawing of the {}.',
  'a photo of the large {}.',
  'a black and white photo of a {}.',
  'the plushie {}.',
  'a dark photo of a {}.',
  'itap of a {}.',
  'graffiti of the {}.',
  'a toy {}.',
  'itap of my {}.',
  'a photo of a cool {}.',
  'a photo of a small {}.',
  'a tattoo of the {}.',
];

/** Templates from a file, one per line (blank lines ignored); each must hold {}. */
export function readTemplateFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new InputError(`${path}: cannot read the templates file (${why})`);
  }
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  if (lines.length === 0) throw new InputError(`${path}: no templates (one per line, {} for the class name)`);
  const bad = lines.find((l) => !l.includes('{}'));
  if (bad) throw new InputError(`${path}: template "${bad}" has no {} placeholder for the class name`);
  return lines;
}
