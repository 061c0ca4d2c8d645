// Prompt templates for zero-shot classification: `{}` is replaced by the label.

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
export const CHINESE_TEMPLATES = ['{}的照片。', '一张{}的照片。', '一张模糊的{}的照片。', '一张{}的特写照片。', '{}的图片。'];

/** Fills one template with a label; a template without `{}` is an error. */
export function fillTemplate(template: string, label: string): string {
  if (!template.includes('{}')) throw new Error(`prompt template "${template}" has no {} placeholder for the label`);
  return template.replaceAll('{}', label);
}
