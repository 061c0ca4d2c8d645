// Zero-shot classification: each label becomes the average of its prompts' normalised text
// embeddings (renormalised, as in the reference notebook's prompt ensembling); an image's
// probabilities are softmax(exp(logit_scale) · cosine) over the labels.

import { at } from '../checked.js';
import { InputError } from '../errors.js';
import { normalizeRows } from '../inference/logits.js';
import type { ClipModel } from '../inference/clip-model.js';
import type { Tensor } from '../tensor.js';
import { DEFAULT_TEMPLATES, fillTemplate } from './templates.js';

export interface Prediction {
  label: string;
  probability: number;
}

export interface ZeroShotClassifier {
  readonly labels: readonly string[];
  /** [labels, embedDim], unit rows. */
  readonly weights: Tensor;
  /** Top-k labels per image, from preprocessed images [N, 3, R, R] or image features [N, D]. */
  classify(imagesOrFeatures: Tensor, topK?: number): Promise<Prediction[][]>;
}

type Tokenize = (texts: readonly string[]) => Tensor<Int32Array>;

const PROMPTS_PER_RUN = 256;

/** Per-model cache: the same labels and templates are embedded once. */
const cache = new WeakMap<ClipModel, Map<string, Tensor>>();

async function labelWeights(
  model: ClipModel,
  tokenize: Tokenize,
  labels: readonly string[],
  templates: readonly string[],
): Promise<Tensor> {
  const key = JSON.stringify([labels, templates]);
  const perModel = cache.get(model) ?? new Map<string, Tensor>();
  cache.set(model, perModel);
  const hit = perModel.get(key);
  if (hit) return hit;
  // Labels are embedded a batch at a time: thousands of labels × templates in one model run
  // would need gigabytes of activations.
  const d = model.config.embedDim;
  const mean = new Float32Array(labels.length * d);
  const labelsPerRun = Math.max(1, Math.floor(PROMPTS_PER_RUN / templates.length));
  for (let first = 0; first < labels.length; first += labelsPerRun) {
    const batch = labels.slice(first, first + labelsPerRun);
    const prompts = batch.flatMap((label) => templates.map((t) => fillTemplate(t, label)));
    const embedded = normalizeRows(await model.encodeText(tokenize(prompts)));
    for (let l = 0; l < batch.length; l++) {
      for (let t = 0; t < templates.length; t++) {
        const row = (l * templates.length + t) * d;
        const prompt = embedded.data.subarray(row, row + d);
        const into = mean.subarray((first + l) * d, (first + l + 1) * d);
        into.forEach((v, k) => (into[k] = v + at(prompt, k) / templates.length));
      }
    }
  }
  const weights = normalizeRows({ data: mean, shape: [labels.length, d] });
  perModel.set(key, weights);
  return weights;
}

function softmax(logits: number[]): number[] {
  const max = logits.reduce((a, b) => Math.max(a, b), -Infinity);
  const exps = logits.map((l) => Math.exp(l - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

export async function zeroShotClassifier(
  model: ClipModel,
  tokenize: Tokenize,
  labels: readonly string[],
  options: { templates?: readonly string[] } = {},
): Promise<ZeroShotClassifier> {
  if (labels.length === 0) throw new InputError('zero-shot classification needs at least one label');
  const templates = options.templates ?? DEFAULT_TEMPLATES;
  if (templates.length === 0) throw new InputError('zero-shot classification needs at least one prompt template');
  const weights = await labelWeights(model, tokenize, labels, templates);
  const d = at(weights.shape, 1);
  return {
    labels,
    weights,
    async classify(input, topK = labels.length) {
      const features = normalizeRows(input.shape.length === 4 ? await model.encodeImage(input) : input);
      const scale = Math.exp(model.logitScale);
      const results: Prediction[][] = [];
      for (let i = 0; i < at(features.shape, 0); i++) {
        const logits = labels.map((_, l) => {
          let dot = 0;
          for (let k = 0; k < d; k++) dot += at(features.data, i * d + k) * at(weights.data, l * d + k);
          return scale * dot;
        });
        const probabilities = softmax(logits);
        results.push(
          labels
            .map((label, l) => ({ label, probability: at(probabilities, l) }))
            .sort((a, b) => b.probability - a.probability)
            .slice(0, topK),
        );
      }
      return results;
    },
  };
}
