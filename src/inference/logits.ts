// The reference's logits: cosine similarities of L2-normalised features, times exp(logit_scale).
import type { Tensor } from '../tensor.js';

/** Rows divided by their L2 norm. */
export function normalizeRows(t: Tensor): Tensor {
  const [n, d] = t.shape as [number, number];
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    let ss = 0;
    for (let j = 0; j < d; j++) ss += t.data[i * d + j]! ** 2;
    const norm = Math.sqrt(ss);
    for (let j = 0; j < d; j++) out[i * d + j] = t.data[i * d + j]! / norm;
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
  const nt = txt.shape[0]!;
  const scale = Math.exp(logitScale);
  const perImage = new Float32Array(ni * nt);
  const perText = new Float32Array(nt * ni);
  for (let i = 0; i < ni; i++) {
    for (let t = 0; t < nt; t++) {
      let dot = 0;
      for (let k = 0; k < d; k++) dot += img.data[i * d + k]! * txt.data[t * d + k]!;
      perImage[i * nt + t] = perText[t * ni + i] = scale * dot;
    }
  }
  return { logitsPerImage: { data: perImage, shape: [ni, nt] }, logitsPerText: { data: perText, shape: [nt, ni] } };
}
