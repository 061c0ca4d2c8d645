// The reference's logits: cosine similarities of L2-normalised features, times exp(logit_scale).
import type { Tensor } from '../tensor.js';
import { at, first } from '../checked.js';

/** Rows divided by their L2 norm. */
export function normalizeRows(t: Tensor): Tensor {
  const [n, d] = t.shape as [number, number];
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const row = t.data.subarray(i * d, (i + 1) * d);
    const norm = Math.sqrt(row.reduce((ss, x) => ss + x * x, 0));
    out.set(
      row.map((x) => x / norm),
      i * d,
    );
  }
  return { data: out, shape: [n, d] };
}

export interface ClipLogits {
  /** [images, texts]: exp(logit_scale) · cos(image, text). */
  logitsPerImage: Tensor;
  /** [texts, images]: the transpose. */
  logitsPerText: Tensor;
}

/** exp(logitScale) · normalised image features @ normalised text featuresᵀ, and its transpose. */
export function clipLogits(imageFeatures: Tensor, textFeatures: Tensor, logitScale: number): ClipLogits {
  const img = normalizeRows(imageFeatures);
  const txt = normalizeRows(textFeatures);
  const [ni, d] = img.shape as [number, number];
  const nt = first(txt.shape);
  const scale = Math.exp(logitScale);
  const perImage = new Float32Array(ni * nt);
  const perText = new Float32Array(nt * ni);
  for (let i = 0; i < ni; i++) {
    for (let t = 0; t < nt; t++) {
      const a = img.data.subarray(i * d, (i + 1) * d);
      const b = txt.data.subarray(t * d, (t + 1) * d);
      const dot = a.reduce((sum, x, k) => sum + x * at(b, k), 0);
      perImage[i * nt + t] = perText[t * ni + i] = scale * dot;
    }
  }
  return { logitsPerImage: { data: perImage, shape: [ni, nt] }, logitsPerText: { data: perText, shape: [nt, ni] } };
}
