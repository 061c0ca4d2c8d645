// Image↔text retrieval on captioned images: cosine similarities of every image with every
// caption, then recall@1/5/10 and the median rank both ways.

import { at } from '../checked.js';
import { normalizeRows, type LoadedClip } from '../index.js';
import type { CaptionedImages } from './datasets.js';
import type { ImageFeatures } from './features.js';
import { dotRows, recallMetrics, retrievalRanks } from '../metrics.js';

export interface RetrievalMetrics {
  image_to_text: Record<string, number>;
  text_to_image: Record<string, number>;
  n_images: number;
  n_texts: number;
}

/** Texts embedded `batch` at a time, unit rows. */
async function textFeatures(clip: LoadedClip, texts: readonly string[], batch = 256): Promise<Float32Array> {
  const d = clip.model.config.embedDim;
  const out = new Float32Array(texts.length * d);
  for (let start = 0; start < texts.length; start += batch) {
    const encoded = await clip.model.encodeText(clip.tokenize(texts.slice(start, start + batch), { truncate: true }));
    out.set(normalizeRows(encoded).data, start * d);
  }
  return out;
}

/** Metrics over the readable images and their captions (captions of unreadable images are left out). */
export async function retrievalMetrics(
  clip: LoadedClip,
  pairs: CaptionedImages,
  features: ImageFeatures,
): Promise<RetrievalMetrics> {
  const row = new Map(features.rows.map((image, r) => [image, r]));
  const kept = pairs.textImage.flatMap((image, t) => {
    const r = row.get(image);
    return r === undefined ? [] : [{ text: at(pairs.texts, t), r }];
  });
  const texts = await textFeatures(
    clip,
    kept.map((k) => k.text),
  );
  const images = normalizeRows({ data: features.data, shape: [features.rows.length, features.dim] }).data;
  const similarity = dotRows(images, texts, features.dim);
  const ranks = retrievalRanks(
    similarity,
    features.rows.length,
    kept.map((k) => k.r),
  );
  return {
    image_to_text: recallMetrics(ranks.imageToText),
    text_to_image: recallMetrics(ranks.textToImage),
    n_images: features.rows.length,
    n_texts: kept.length,
  };
}
