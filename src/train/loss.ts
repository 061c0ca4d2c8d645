// CLIP's contrastive loss over a batch of matching (image, text) pairs, as graph nodes:
// L2-normalised features, logits = exp(logit_scale) · img @ txtᵀ, and the mean of the
// cross-entropies of each image over the texts and of each text over the images (label = own index).

import type { Graph, Value } from '../graph/ir.js';
import { first } from '../checked.js';

export interface ClipLossValues {
  loss: Value;
  lossImage: Value;
  lossText: Value;
  /** [B, B]: row i = image i against every text. */
  logitsPerImage: Value;
}

const normalize = (f: Value): Value => f.div(f.pow(2).sum([1], true).sqrt());

/** Cross-entropy with labels arange(B) along `axis` of logits [B, B]: −mean of the log-softmax diagonal. */
function diagonalCrossEntropy(logits: Value, axis: number, eye: Value): Value {
  const logProbs = first(logits.graph.op('LogSoftmax', [logits], { axis }));
  return logProbs.mul(eye).sum([0, 1], false).div(-logits.dim(0));
}

/** image and text features [B, E] (fixed B), logitScale [] (the stored log of the temperature). */
export function clipLoss(imageFeatures: Value, textFeatures: Value, logitScale: Value): ClipLossValues {
  const g: Graph = imageFeatures.graph;
  const batch = imageFeatures.dim(0);
  // The reference's order: (exp(s) · img) @ txtᵀ.
  const logitsPerImage = normalize(imageFeatures)
    .mul(logitScale.exp())
    .matmul(normalize(textFeatures).transpose([1, 0]));
  const eye = g.constant(
    Float32Array.from({ length: batch * batch }, (_, i) => (i % (batch + 1) === 0 ? 1 : 0)),
    [batch, batch],
  );
  // logits_per_text = logits_per_imageᵀ: its row-wise softmax is the column-wise softmax here.
  const lossImage = diagonalCrossEntropy(logitsPerImage, 1, eye);
  const lossText = diagonalCrossEntropy(logitsPerImage, 0, eye);
  return { loss: lossImage.add(lossText).div(2), lossImage, lossText, logitsPerImage };
}
