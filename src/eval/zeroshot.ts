// Zero-shot classification of a labelled dataset: the prompt-ensembled classifier of zeroshot/
// scored against every image's features, then the metrics.

import { at } from '../checked.js';
import { normalizeRows, zeroShotClassifier, type LoadedClip } from '../index.js';
import type { LabelledDataset } from './datasets.js';
import type { ImageFeatures } from './features.js';
import { classificationMetrics, dotRows, type ClassificationMetrics } from '../metrics.js';

/** Logits [rows, classes] = exp(logit_scale) · cos(image, class embedding), as the reference computes them. */
export async function zeroShotLogits(
  clip: LoadedClip,
  classes: readonly string[],
  templates: readonly string[],
  features: ImageFeatures,
): Promise<Float32Array> {
  const classifier = await zeroShotClassifier(clip.model, (t) => clip.tokenize(t, { truncate: true }), classes, {
    templates,
  });
  const images = normalizeRows({ data: features.data, shape: [features.rows.length, features.dim] });
  const logits = dotRows(images.data, classifier.weights.data, features.dim);
  const scale = Math.exp(clip.model.logitScale);
  return logits.map((v) => v * scale);
}

/** Metrics over the images that could be read (the labels of the feature rows). */
export async function zeroShotMetrics(
  clip: LoadedClip,
  data: LabelledDataset,
  templates: readonly string[],
  features: ImageFeatures,
): Promise<ClassificationMetrics> {
  const logits = await zeroShotLogits(clip, data.classes, templates, features);
  return classificationMetrics(
    logits,
    features.rows.map((r) => at(data.labels, r)),
    data.classes,
  );
}
