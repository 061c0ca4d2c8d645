// Training a small CLIP from scratch on data nobody here made: Fashion-MNIST (Debian's
// `dataset-fashion-mnist`, 60,000 training and 10,000 test images of 28×28 grayscale clothing,
// 10 classes). Captions are built from the labels with varied phrasings; the trained model is
// saved as a safetensors checkpoint that load() and `clip classify` read, and is then judged by
// zero-shot top-1 on the test split with prompts never seen in training (CLIP's default
// 7-template ensemble, the one `clip classify` uses).
//
//   node dist/bench/fashion-mnist.js [--epochs 3] [--samples 60000] [--batch 256] [--seed 0] [--out fashion-clip]
//
// Exported as `fashionDemo` too, so that test/demo-fashion.test.ts runs a shortened version.

import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { InputError } from '../src/errors.js';
import { FASHION_LABELS, FASHION_MNIST_DIR, readFashionSplit, type FashionSplit } from '../src/eval/fashion-mnist.js';
import { load } from '../src/load.js';
import type { ClipConfig, VisionTransformerConfig } from '../src/models/config.js';
import { randomStateDict, seededUniform } from '../src/models/random.js';
import { fromFloat32, toFloat32, type StateDict, type Tensor } from '../src/tensor.js';
import { Tokenizer } from '../src/text/index.js';
import { findMergesFile } from '../src/zoo/tokenizer.js';
import { Trainer, type Batch } from '../src/train/trainer.js';
import { writeSafetensors } from '../src/weights/safetensors.js';
import { zeroShotClassifier } from '../src/zeroshot/classifier.js';
import { DEFAULT_TEMPLATES } from '../src/zeroshot/templates.js';

export { FASHION_LABELS, FASHION_MNIST_DIR, readFashionSplit, type FashionSplit };

/**
 * Training phrasings, `{}` for the label and `{adj}` for a word drawn from TRAIN_ADJECTIVES: the
 * filler words teach the text tower that the garment word decides, so that prompts with words it
 * never saw still land near their class. None of these is a zero-shot template (asserted below).
 */
const TRAIN_TEMPLATES = [
  '{}',
  'a {}.',
  'a photo of a {}.',
  'a picture of a {}.',
  'an image of the {}.',
  'a {adj} {}.',
  'a {adj} photo of a {}.',
  'a photo of my {}.',
  'this is a {}.',
  'a product shot of a {}.',
  'a {adj} picture of the {}.',
  'there is a {} here.',
  'a {} in a catalogue.',
  'a grayscale image of a {}.',
];
const TRAIN_ADJECTIVES = [
  'black and white',
  'small',
  'grayscale',
  'low resolution',
  'simple',
  'tiny',
  'dark',
  'bright',
  'new',
  'old',
  'cheap',
  'nice',
];

/** Zero-shot prompts: CLIP's default ensemble (what `clip classify` uses), disjoint from the training phrasings. */
export const EVAL_TEMPLATES = DEFAULT_TEMPLATES;

/**
 * ViT with 7×7 patches at the native 28 px (16 patches), width 128 (2 heads), 2 layers; text width
 * 64 (1 head), 2 layers, 16 tokens of context (the longest caption is under 16). Sized for two
 * shared CPU cores: ~0.9 s per step of 256 (4×4 patches or a third layer cost ~2× more). vocabSize is
 * CLIP's 49408 so the saved model works with CLIP's BPE tokenizer, as `clip classify` needs.
 */
export const FASHION_CONFIG: ClipConfig & { vision: VisionTransformerConfig } = {
  embedDim: 64,
  vision: { kind: 'vit', width: 128, layers: 2, heads: 2, patchSize: 7, imageResolution: 28 },
  text: { kind: 'transformer', width: 64, layers: 2, heads: 1, contextLength: 16, vocabSize: 49408 },
  activation: 'quick_gelu',
};

// CLIP's image normalisation (the gray value is replicated to the three channels).
const MEAN = [0.48145466, 0.4578275, 0.40821073];
const STD = [0.26862954, 0.26130258, 0.27577711];

/** Images `rows` of a split as CLIP input: float32 [n, 3, 28, 28], gray replicated, normalised. */
export function imageTensor(split: FashionSplit, rows: readonly number[]): Tensor {
  const P = 28 * 28;
  const data = new Float32Array(rows.length * 3 * P);
  rows.forEach((r, i) => {
    for (let c = 0; c < 3; c++) {
      const out = (i * 3 + c) * P;
      for (let p = 0; p < P; p++) data[out + p] = (split.pixels[r * P + p]! / 255 - MEAN[c]!) / STD[c]!;
    }
  });
  return { data, shape: [rows.length, 3, 28, 28] };
}

/** A caption for class `label`, its phrasing drawn with `random`. */
function caption(label: number, random: () => number): string {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
  return pick(TRAIN_TEMPLATES).replace('{adj}', pick(TRAIN_ADJECTIVES)).replace('{}', FASHION_LABELS[label]!);
}

/** Every training caption's words: used to check the zero-shot prompts are new. */
function trainingPhrasings(): string[] {
  return TRAIN_TEMPLATES.flatMap((t) =>
    t.includes('{adj}') ? TRAIN_ADJECTIVES.map((a) => t.replace('{adj}', a)) : [t],
  );
}

/** Gaussian N(0, 1) from a seeded uniform (Box-Muller). */
function gaussian(random: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(random())) * Math.cos(2 * Math.PI * random());
}

/**
 * CLIP's own initialisation (model.py `initialize_parameters` and the ViT's constructor): std
 * width^-0.5 for attention inputs, embeddings of the ViT and the projections, a smaller std for
 * the residual outputs. randomStateDict's uniform 0.02 trains far slower from scratch.
 */
export function clipInit(cfg: ClipConfig & { vision: VisionTransformerConfig }, seed: number): StateDict {
  const sd = randomStateDict(cfg, seed); // every key with its shape, norms at gain 1
  const normal = gaussian(seededUniform(seed + 1));
  const text = cfg.text;
  const std = (key: string): number | undefined => {
    const visual = key.startsWith('visual.');
    const width = visual ? cfg.vision.width : text.width;
    const layers = visual ? cfg.vision.layers : text.layers;
    if (/(ln_\w+)\.|bias$/.test(key)) return undefined;
    if (key === 'token_embedding.weight') return 0.02;
    if (key === 'positional_embedding') return 0.01;
    if (/^visual\.(class_embedding|positional_embedding|proj)$/.test(key) || key === 'text_projection')
      return width ** -0.5;
    // fan-in, as torch's conv default scale
    if (key === 'visual.conv1.weight') return (3 * cfg.vision.patchSize ** 2) ** -0.5;
    if (key.endsWith('attn.in_proj_weight')) return width ** -0.5;
    if (key.endsWith('attn.out_proj.weight') || key.endsWith('mlp.c_proj.weight'))
      return width ** -0.5 * (2 * layers) ** -0.5;
    if (key.endsWith('mlp.c_fc.weight')) return (2 * width) ** -0.5;
    return undefined;
  };
  for (const [key, t] of sd) {
    const s = std(key);
    if (s === undefined) continue;
    const data = new Float32Array(toFloat32(t).length);
    for (let i = 0; i < data.length; i++) data[i] = s * normal();
    sd.set(key, fromFloat32(data, t.shape));
  }
  return sd;
}

/**
 * The text tower only ever sees the few dozen BPE ids of the training captions, but a 49408-row
 * token table would cost 3.2M parameters of AdamW per step (more than the rest of the model, all
 * with zero gradient but for those rows). So training uses a compact table of the ids in use, in
 * increasing order (the EOT id stays the largest, where the text tower pools), and the saved model
 * scatters the trained rows back into the full table; the other rows keep their initial values,
 * as they would have when trained (zero gradient) up to weight decay.
 */
class CompactVocab {
  private readonly index = new Map<number, number>();
  readonly ids: number[];

  constructor(tokens: Int32Array) {
    this.ids = [...new Set(tokens)].sort((a, b) => a - b);
    this.ids.forEach((id, i) => this.index.set(id, i));
  }

  remap(tokens: Int32Array): Int32Array {
    return tokens.map((id) => this.index.get(id)!);
  }

  /** Rows `ids` of the full table [V, D] as a compact table [ids, D]. */
  gather(full: Float32Array, width: number): Float32Array {
    const out = new Float32Array(this.ids.length * width);
    this.ids.forEach((id, i) => out.set(full.subarray(id * width, (id + 1) * width), i * width));
    return out;
  }

  /** Writes the compact rows back into the full table. */
  scatter(compact: Float32Array, full: Float32Array, width: number): void {
    this.ids.forEach((id, i) => full.set(compact.subarray(i * width, (i + 1) * width), id * width));
  }
}

export interface FashionDemoOptions {
  epochs: number;
  /** Training images used (the first `samples` of a seeded shuffle of the 60,000). */
  samples: number;
  batchSize: number;
  /** Peak learning rate, reached after `warmup` steps, then cosine decay to 0. */
  lr: number;
  warmup: number;
  seed: number;
  /** Output path without extension: writes `<out>.safetensors`. */
  out: string;
  /** Test images scored (the first `testSamples` of the 10,000). */
  testSamples: number;
  dataDir?: string;
  bpePath?: string;
  threads?: number;
  log?: (line: string) => void;
}

export interface FashionDemoResult {
  losses: number[];
  trainSeconds: number;
  samplesPerSecond: number;
  /** Zero-shot top-1 on the scored test images with EVAL_TEMPLATES. */
  accuracy: number;
  /** The same with `precision: 'int8'`, and the share of images whose top-1 equals fp32's. */
  int8: { accuracy: number; agreement: number };
  /** int8 with the patch convolution quantized too, calibrated on CALIBRATION_IMAGES training images. */
  int8Calibrated: { accuracy: number; agreement: number };
  modelPath: string;
}

/** Seeded Fisher-Yates permutation of 0..n-1. */
function shuffled(n: number, random: () => number): number[] {
  const order = [...Array(n).keys()];
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** Training images that calibrate the int8 patch convolution (static quantisation, inference/int8.ts). */
const CALIBRATION_IMAGES = 32;

export async function fashionDemo(opts: FashionDemoOptions): Promise<FashionDemoResult> {
  const log = opts.log ?? console.log;
  const cfg = FASHION_CONFIG;
  const seen = new Set(trainingPhrasings());
  const reused = EVAL_TEMPLATES.filter((t) => seen.has(t));
  if (reused.length) throw new Error(`zero-shot templates also used in training: ${reused.join(' | ')}`);

  const train = readFashionSplit('train', opts.dataDir);
  const test = readFashionSplit('t10k', opts.dataDir);
  const tokenizer = Tokenizer.fromMergesFile(findMergesFile(opts.bpePath));
  const tokenize = (texts: readonly string[]) => tokenizer.tokenize(texts, { contextLength: cfg.text.contextLength });
  const vocab = new CompactVocab(
    tokenize(trainingPhrasings().flatMap((t) => FASHION_LABELS.map((l) => t.replace('{}', l)))).data,
  );

  const full = clipInit(cfg, opts.seed);
  const D = cfg.text.width;
  const fullTable = toFloat32(full.get('token_embedding.weight')!);
  const compact = new Map(full);
  compact.set('token_embedding.weight', fromFloat32(vocab.gather(fullTable, D), [vocab.ids.length, D]));
  const compactCfg: ClipConfig = { ...cfg, text: { ...cfg.text, vocabSize: vocab.ids.length } };

  const random = seededUniform(opts.seed + 2);
  const rows = shuffled(train.count, random).slice(0, Math.min(opts.samples, train.count));
  const perEpoch = Math.floor(rows.length / opts.batchSize);
  if (perEpoch < 1) throw new InputError(`${rows.length} training images make no batch of ${opts.batchSize}`);
  const totalSteps = perEpoch * opts.epochs;
  const trainer = await Trainer.create(compact, compactCfg, {
    batchSize: opts.batchSize,
    lr: { baseLr: opts.lr, warmup: opts.warmup, totalSteps },
    optimizer: { betas: [0.9, 0.98], eps: 1e-6, weightDecay: 0.1 },
    ...(opts.threads ? { runtime: { threads: opts.threads } } : {}),
  });
  log(
    `training ${totalSteps} steps: ${opts.epochs} epoch(s) of ${perEpoch} batches of ${opts.batchSize} ` +
      `(${rows.length} images), ${vocab.ids.length} token ids in use`,
  );

  // With 10 classes a batch of 256 holds ~25 images of each class, and the contrastive loss
  // counts the other same-class captions as negatives. Accepted: the varied phrasings make
  // those captions differ, the classes still separate (the loss floor is ~log(B/10), not 0).
  const losses: number[] = [];
  const t0 = performance.now();
  try {
    for (let epoch = 0; epoch < opts.epochs; epoch++) {
      const order = shuffled(rows.length, random).map((i) => rows[i]!);
      for (let b = 0; b < perEpoch; b++) {
        const batchRows = order.slice(b * opts.batchSize, (b + 1) * opts.batchSize);
        const tokens = tokenize(batchRows.map((r) => caption(train.labels[r]!, random)));
        const batch: Batch = {
          images: imageTensor(train, batchRows),
          tokens: { data: vocab.remap(tokens.data), shape: tokens.shape },
        };
        const { loss } = await trainer.trainStep(batch);
        losses.push(loss);
        const step = trainer.step;
        if (step % 20 === 0 || step === totalSteps) {
          const seconds = (performance.now() - t0) / 1000;
          log(
            `epoch ${epoch + 1} step ${step}/${totalSteps} loss ${loss.toFixed(4)} lr ` +
              `${trainer.learningRate(step - 1).toExponential(2)} ${((step * opts.batchSize) / seconds).toFixed(0)} ` +
              `samples/s`,
          );
        }
      }
    }
  } finally {
    await trainer.release();
  }
  const trainSeconds = (performance.now() - t0) / 1000;
  const samplesPerSecond = (totalSteps * opts.batchSize) / trainSeconds;

  const trained = trainer.currentStateDict();
  vocab.scatter(toFloat32(trained.get('token_embedding.weight')!), fullTable, D);
  trained.set('token_embedding.weight', fromFloat32(fullTable, [cfg.text.vocabSize, D]));
  const modelPath = `${opts.out}.safetensors`;
  writeSafetensors(modelPath, trained, { format: 'pt', producer: 'clip-ts fashion-mnist demo' });
  log(`trained in ${trainSeconds.toFixed(1)} s (${samplesPerSecond.toFixed(1)} samples/s); saved ${modelPath}`);

  const n = Math.min(opts.testSamples, test.count);
  const predicted = await zeroShotPredictions(modelPath, test, n, opts, 'fp32');
  const accuracyOf = (labels: string[]) => labels.filter((l, r) => l === FASHION_LABELS[test.labels[r]!]).length / n;
  const int8Of = (labels: string[]) => ({
    accuracy: accuracyOf(labels),
    agreement: labels.filter((l, r) => l === predicted[r]).length / n,
  });
  const accuracy = accuracyOf(predicted);
  const int8 = int8Of(await zeroShotPredictions(modelPath, test, n, opts, 'int8'));
  const calibration = imageTensor(train, rows.slice(0, CALIBRATION_IMAGES));
  const int8Calibrated = int8Of(await zeroShotPredictions(modelPath, test, n, opts, 'int8', calibration));
  log(
    `zero-shot top-1 on ${n} test images, ${EVAL_TEMPLATES.length} unseen prompt templates: ` +
      `${(100 * accuracy).toFixed(2)}%`,
  );
  log(
    `with precision 'int8': ${(100 * int8.accuracy).toFixed(2)}%, same top-1 as fp32 on ` +
      `${(100 * int8.agreement).toFixed(2)}% of the images`,
  );
  log(
    `int8 with the patch convolution calibrated on ${CALIBRATION_IMAGES} training images: ` +
      `${(100 * int8Calibrated.accuracy).toFixed(2)}%, same top-1 as fp32 on ` +
      `${(100 * int8Calibrated.agreement).toFixed(2)}%`,
  );
  return { losses, trainSeconds, samplesPerSecond, accuracy, int8, int8Calibrated, modelPath };
}

/** Loads the saved file as `clip classify` does and returns the top-1 label of each of the first `n` test images. */
async function zeroShotPredictions(
  modelPath: string,
  test: FashionSplit,
  n: number,
  opts: FashionDemoOptions,
  precision: 'fp32' | 'int8',
  calibrationImages?: Tensor,
): Promise<string[]> {
  const clip = await load(modelPath, {
    precision,
    calibrationImages,
    ...(opts.bpePath ? { bpePath: opts.bpePath } : {}),
    ...(opts.threads ? { threads: opts.threads } : {}),
  });
  try {
    const classifier = await zeroShotClassifier(
      clip.model,
      (t) => clip.tokenize(t, { truncate: true }),
      FASHION_LABELS,
      { templates: EVAL_TEMPLATES },
    );
    const labels: string[] = [];
    const chunk = 500;
    for (let start = 0; start < n; start += chunk) {
      const rows = Array.from({ length: Math.min(chunk, n - start) }, (_, i) => start + i);
      for (const p of await classifier.classify(imageTensor(test, rows), 1)) labels.push(p[0]!.label);
    }
    return labels;
  } finally {
    await clip.model.release();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      epochs: { type: 'string', default: '1' },
      samples: { type: 'string', default: '60000' },
      batch: { type: 'string', default: '256' },
      lr: { type: 'string', default: '2e-3' },
      warmup: { type: 'string', default: '30' },
      seed: { type: 'string', default: '0' },
      out: { type: 'string', default: 'fashion-clip' },
      'test-samples': { type: 'string', default: '10000' },
      data: { type: 'string', default: FASHION_MNIST_DIR },
      bpe: { type: 'string' },
      threads: { type: 'string' },
    },
  });
  await fashionDemo({
    epochs: Number(values.epochs),
    samples: Number(values.samples),
    batchSize: Number(values.batch),
    lr: Number(values.lr),
    warmup: Number(values.warmup),
    seed: Number(values.seed),
    out: values.out!,
    testSamples: Number(values['test-samples']),
    dataDir: values.data!,
    ...(values.bpe ? { bpePath: values.bpe } : {}),
    ...(values.threads ? { threads: Number(values.threads) } : {}),
  });
}
