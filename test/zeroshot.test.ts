// Zero-shot classification on a random-weight model: prompt ensembling is "normalise each prompt
// embedding, average, renormalise", probabilities are softmax(exp(logit_scale) · cos), and label
// embeddings are computed once per (model, labels, templates).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLIP } from '../src/inference/clip.js';
import { normalizeRows } from '../src/inference/logits.js';
import type { ClipConfig } from '../src/models/config.js';
import { randomStateDict } from '../src/models/random.js';
import { zeroShotClassifier } from '../src/zeroshot/classifier.js';
import { fillTemplate } from '../src/zeroshot/templates.js';

const CFG: ClipConfig = {
  embedDim: 8,
  vision: { kind: 'vit', width: 64, layers: 1, heads: 1, patchSize: 8, imageResolution: 16 },
  text: { kind: 'transformer', width: 64, layers: 1, heads: 1, contextLength: 8, vocabSize: 40 },
  activation: 'quick_gelu',
};

/** A stand-in tokenizer: one id per character (mod 30) between start (38) and end (39) tokens. */
function toyTokenize(texts: readonly string[]) {
  const data = new Int32Array(texts.length * 8);
  texts.forEach((t, i) => {
    const ids = [38, ...[...t].slice(0, 6).map((c) => c.charCodeAt(0) % 30), 39];
    data.set(ids, i * 8);
  });
  return { data, shape: [texts.length, 8] };
}

test('label weights are the renormalised mean of normalised prompt embeddings', async () => {
  const model = new CLIP(randomStateDict(CFG, 7));
  const templates = ['a {}.', 'the {}!'];
  const classifier = await zeroShotClassifier(model, toyTokenize, ['cat', 'dog'], { templates });
  const prompts = normalizeRows(await model.encodeText(toyTokenize(['a cat.', 'the cat!', 'a dog.', 'the dog!'])));
  for (let label = 0; label < 2; label++) {
    const mean = Array.from(
      { length: 8 },
      (_, k) => (prompts.data[2 * label * 8 + k]! + prompts.data[(2 * label + 1) * 8 + k]!) / 2,
    );
    const norm = Math.hypot(...mean);
    mean.forEach((m, k) => assert.ok(Math.abs(classifier.weights.data[label * 8 + k]! - m / norm) < 1e-6));
  }
  const again = await zeroShotClassifier(model, toyTokenize, ['cat', 'dog'], { templates });
  assert.equal(again.weights, classifier.weights, 'the same labels and templates are embedded once');
  await model.release();
});

test('classify: softmax over exp(logit_scale) · cosine, sorted, top-k', async () => {
  const model = new CLIP(randomStateDict(CFG, 8));
  const classifier = await zeroShotClassifier(model, toyTokenize, ['cat', 'dog', 'car'], { templates: ['{}'] });
  const features = { data: Float32Array.from({ length: 16 }, (_, i) => Math.cos(i)), shape: [2, 8] };
  const [first, second] = await classifier.classify(features);
  const img = normalizeRows(features);
  const logits = [0, 1, 2].map(
    (l) =>
      Math.exp(model.logitScale) *
      [...Array(8).keys()].reduce((s, k) => s + img.data[k]! * classifier.weights.data[l * 8 + k]!, 0),
  );
  const z = logits.reduce((s, v) => s + Math.exp(v), 0);
  for (const p of first!)
    assert.ok(Math.abs(p.probability - Math.exp(logits[['cat', 'dog', 'car'].indexOf(p.label)]!) / z) < 1e-6);
  assert.ok(first![0]!.probability >= first![1]!.probability && first![1]!.probability >= first![2]!.probability);
  assert.ok(Math.abs(second!.reduce((s, p) => s + p.probability, 0) - 1) < 1e-9);
  assert.equal((await classifier.classify(features, 1))[0]!.length, 1);
  await model.release();
});

test('bad labels and templates are refused', async () => {
  const model = new CLIP(randomStateDict(CFG, 9));
  await assert.rejects(zeroShotClassifier(model, toyTokenize, []), /at least one label/);
  await assert.rejects(
    zeroShotClassifier(model, toyTokenize, ['x'], { templates: [] }),
    /at least one prompt template/,
  );
  assert.throws(() => fillTemplate('no placeholder', 'cat'), /has no \{\} placeholder/);
  await model.release();
});
