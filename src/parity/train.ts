// Training parity: for every <dir>/train/<model>.safetensors, one training step of the model's
// weights from <dir>/models/ on the stored batch, compared with the reference: loss, every
// gradient, the BatchNorm buffers after the train-mode forward pass, and the weights after torch
// 1.13's AdamW (settings from the file's metadata; decay on every parameter) and the logit_scale
// clamp. Also AdamW alone, fed the reference's gradients. Tolerances are the fixture README's:
// loss ≤ 1e-5, gradients and buffers ≤ 1e-4 of each tensor's largest entry.

import { at, entry, first } from '../checked.js';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { inferConfigFromStateDict } from '../models/config.js';
import { toFloat32, toInt32, type StateDict } from '../tensor.js';
import { AdamW, decayAll, type AdamWOptions } from '../train/adamw.js';
import { Trainer, type Gradients } from '../train/trainer.js';
import { readCheckpoint } from '../weights/index.js';
import { readSafetensors } from '../weights/safetensors.js';
import { numericCheck, type Check } from './check.js';

const TOKEN_EMBEDDING = 'token_embedding.weight';
/** The reference's optimiser when a file's metadata does not say (README: "One training step"). */
const DEFAULT_ADAMW = { lr: 1e-3, betas: [0.9, 0.98] as [number, number], eps: 1e-6, weight_decay: 0.2 };

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(at(a, i)));
  return m;
}

/**
 * Key biases only shift every attention logit of a query, so their true gradient is 0: the reference stores rounding
 * noise.
 */
function isKeyBiasEntry(name: string, i: number, length: number): boolean {
  if (name.endsWith('attnpool.k_proj.bias')) return true;
  return name.endsWith('attn.in_proj_bias') && i >= length / 3 && i < (2 * length) / 3;
}

/** The reference's token-embedding rows (stored as rows + values) as a map row → values. */
function rowsOf(ref: StateDict, key: string, width: number): Map<number, Float32Array> {
  const rows = toInt32(entry(ref, `${key}.rows`));
  const values = toFloat32(entry(ref, `${key}.values`));
  return new Map([...rows].map((r, i) => [r, values.subarray(i * width, (i + 1) * width)]));
}

/**
 * Entries compared one by one, each against its own tolerance, summed up as one Check: the worst
 * absolute error, the worst error relative to its tensor's largest reference entry, the first failure.
 */
class Comparison {
  private maxAbs = 0;
  private maxRel = 0;
  private worst = '';
  private entries = 0;
  private failures = 0;
  private firstFailure = '';
  private readonly problems: string[] = [];

  constructor(
    private readonly name: string,
    private readonly tolerance: string,
  ) {}

  /** `scale`: the largest |entry| of the reference tensor this entry belongs to. */
  entry(label: string, ours: number, expected: number, tol: number, scale: number): void {
    const d = Math.abs(ours - expected);
    const err = Number.isNaN(d) ? Infinity : d;
    this.entries++;
    if (err > this.maxAbs) {
      this.maxAbs = err;
      this.worst = label;
    }
    this.maxRel = Math.max(this.maxRel, scale > 0 ? err / scale : err);
    if (!(d <= tol)) {
      if (this.failures++ === 0)
        this.firstFailure = `${label}: ${ours} vs ${expected} (tolerance ${tol.toExponential(2)})`;
    }
  }

  /** A failure that is not one entry (missing tensors, wrong counts). */
  problem(words: string): void {
    this.problems.push(words);
  }

  check(): Check {
    const passed = this.failures === 0 && this.problems.length === 0 && this.entries > 0;
    const words = [`${this.entries} entries, ${this.tolerance}`];
    if (this.worst) words.push(`worst ${this.worst}`);
    if (this.failures) words.push(`${this.failures} over tolerance, first ${this.firstFailure}`);
    if (this.entries === 0) words.push('nothing compared');
    words.push(...this.problems);
    return {
      group: 'train',
      name: this.name,
      passed,
      maxAbs: this.maxAbs,
      maxRel: this.maxRel,
      detail: words.join('; '),
    };
  }
}

interface Step {
  /** e.g. "vit-tiny" (from train/vit-tiny.safetensors). */
  model: string;
  weights: StateDict;
  ref: StateDict;
  lr: number;
  adamw: AdamWOptions;
}

function gradientChecks(s: Step, g: Gradients, width: number, vocabSize: number): Check[] {
  const { ref, model } = s;
  const grads = new Comparison(
    `${model} gradients`,
    "tolerance 1e-4 × each tensor's max |entry| (key-bias entries 1e-6)",
  );
  const refGradNames = [...ref.keys()]
    .filter((k) => k.startsWith('grad.') && !k.startsWith(`grad.${TOKEN_EMBEDDING}`))
    .map((k) => k.slice(5));
  const ourNames = [...g.grads.keys()].filter((k) => k !== TOKEN_EMBEDDING);
  const missing = refGradNames.filter((n) => !g.grads.has(n));
  const extra = ourNames.filter((n) => !ref.has(`grad.${n}`));
  if (missing.length) grads.problem(`no gradient for ${missing.join(', ')}`);
  if (extra.length) grads.problem(`gradients the reference lacks: ${extra.join(', ')}`);
  for (const name of refGradNames) {
    const expected = toFloat32(entry(ref, `grad.${name}`));
    const ours = g.grads.get(name);
    if (!ours) continue;
    const scale = maxAbs(expected);
    for (let i = 0; i < expected.length; i++) {
      // Key-bias entries are rounding noise (a tensor of them has a meaningless scale): absolute
      // tolerance 1e-6, and maxRel counts them against 1e-2, the scale at which 1e-4 relative is 1e-6.
      const noise = isKeyBiasEntry(name, i, expected.length);
      grads.entry(
        `grad.${name}[${i}]`,
        at(ours, i),
        at(expected, i),
        noise ? 1e-6 : 1e-4 * scale,
        noise ? 1e-2 : scale,
      );
    }
  }

  // Rows of token ids not in the batch must have exactly zero gradient.
  const token = new Comparison(
    `${model} gradient ${TOKEN_EMBEDDING} (rows of the batch's tokens; others exactly 0)`,
    'tolerance 1e-4 × max |entry| of the stored rows',
  );
  const tokenGrad = entry(g.grads, TOKEN_EMBEDDING);
  const refRows = rowsOf(ref, `grad.${TOKEN_EMBEDDING}`, width);
  const scale = Math.max(...[...refRows.values()].map(maxAbs));
  for (let r = 0; r < vocabSize; r++) {
    const expected = refRows.get(r);
    for (let j = 0; j < width; j++)
      token.entry(
        `grad.${TOKEN_EMBEDDING}[${r}, ${j}]`,
        at(tokenGrad, r * width + j),
        expected ? at(expected, j) : 0,
        expected ? 1e-4 * scale : 0,
        scale,
      );
  }
  return [grads.check(), token.check()];
}

/**
 * The weights after the step. AdamW's first update is p·(1 − lr·wd) − lr·g/(|g| + eps) (m/√v
 * cancels the bias corrections), so a gradient difference δ moves the update by at most
 * lr·2δ/(|g| + eps); for the token embedding (no dense reference gradient) δ is bounded by the
 * gradient check's tolerance.
 */
function updateCheck(s: Step, trainer: Trainer, g: Gradients, width: number): Check {
  const { ref, model, lr } = s;
  const updated = new Comparison(
    `${model} weights after the AdamW step`,
    'tolerance 1e-6 + lr·min(2, 2·|Δgrad|/(|grad| + 1e-6)) per entry',
  );
  const refRows = rowsOf(ref, `grad.${TOKEN_EMBEDDING}`, width);
  const tokenTol = 1e-4 * Math.max(...[...refRows.values()].map(maxAbs));
  for (const name of trainer.params) {
    const ours = entry(trainer.weights, name).data;
    const isToken = name === TOKEN_EMBEDDING;
    if (!isToken && !ref.has(`updated.${name}`)) {
      updated.problem(`no reference updated.${name}`);
      continue;
    }
    const expected = isToken ? rowsOf(ref, `updated.${name}`, width) : toFloat32(entry(ref, `updated.${name}`));
    const refGrad = isToken ? undefined : toFloat32(entry(ref, `grad.${name}`));
    const ourGrads = entry(g.grads, name);
    const entries =
      expected instanceof Map
        ? [...expected].flatMap(([r, v]) => [...v].map((e, j) => [r * width + j, e] as const))
        : [...expected].map((e, i) => [i, e] as const);
    const scale = expected instanceof Map ? Math.max(...[...expected.values()].map(maxAbs)) : maxAbs(expected);
    for (const [i, e] of entries) {
      const ourGrad = at(ourGrads, i);
      const refG = refGrad ? at(refGrad, i) : ourGrad;
      const t =
        1e-6 +
        lr * Math.min(2, (2 * Math.abs(ourGrad - refG)) / (Math.abs(refG) + 1e-6)) +
        (refGrad ? 0 : (2 * lr * tokenTol) / (Math.abs(ourGrad) + 1e-6));
      updated.entry(`updated.${name}[${i}]`, at(ours, i), e, t, scale);
    }
  }
  return updated.check();
}

/**
 * BatchNorm running statistics after the forward pass, and num_batches_tracked after the step; none for models without
 * BatchNorm.
 */
function bufferCheck(s: Step, trainer: Trainer, g: Gradients): Check[] {
  const { ref, model } = s;
  const refBuffers = [...ref.keys()].filter((k) => k.startsWith('buffers_after.'));
  if (refBuffers.length === 0 && g.buffersAfter.size === 0) return [];
  const buffers = new Comparison(
    `${model} BatchNorm buffers after the forward pass`,
    "tolerance 1e-4 × each tensor's max |entry|; num_batches_tracked exact",
  );
  const refStats = refBuffers.filter((k) => /running_(mean|var)$/.test(k));
  if (refStats.length !== g.buffersAfter.size)
    buffers.problem(`${g.buffersAfter.size} running statistics vs the reference's ${refStats.length}`);
  for (const [name, after] of g.buffersAfter) {
    const r = ref.get(`buffers_after.${name}`);
    if (!r) {
      buffers.problem(`no reference buffers_after.${name}`);
      continue;
    }
    const expected = toFloat32(r);
    const scale = maxAbs(expected);
    after.forEach((v, i) => buffers.entry(`buffers_after.${name}[${i}]`, v, at(expected, i), 1e-4 * scale, scale));
  }
  const counts = trainer.currentStateDict();
  for (const k of refBuffers.filter((k) => k.endsWith('num_batches_tracked'))) {
    const ours = counts.get(k.slice('buffers_after.'.length));
    const expected = first(toInt32(entry(ref, k)));
    buffers.entry(k, ours ? first(toInt32(ours)) : NaN, expected, 0, Math.abs(expected));
  }
  return [buffers.check()];
}

/** The full step on the stored batch: forward, backward, AdamW, clamp. */
async function stepChecks(s: Step): Promise<Check[]> {
  const { ref, model } = s;
  const cfg = inferConfigFromStateDict(s.weights);
  const images = entry(ref, 'images');
  const tokens = entry(ref, 'tokens');
  const trainer = await Trainer.create(s.weights, cfg, {
    batchSize: at(images.shape, 0),
    lr: s.lr,
    optimizer: s.adamw,
  });
  try {
    const g = await trainer.computeGradients({
      images: { data: toFloat32(images), shape: images.shape },
      tokens: { data: toInt32(tokens), shape: tokens.shape },
    });
    const checks = [{ ...numericCheck(`${model} loss`, [g.loss], entry(ref, 'loss'), 1e-5), group: 'train' }];
    checks.push(...gradientChecks(s, g, cfg.text.width, cfg.text.vocabSize));
    trainer.applyGradients(g);
    checks.push(...bufferCheck(s, trainer, g));
    checks.push(updateCheck(s, trainer, g, cfg.text.width));
    checks.push({
      ...numericCheck(
        `${model} logit_scale after the step and clamp`,
        entry(trainer.weights, 'logit_scale').data,
        entry(ref, 'updated.logit_scale'),
        1e-6,
      ),
      group: 'train',
    });
    return checks;
  } finally {
    await trainer.release();
  }
}

/**
 * AdamW alone on the reference's gradients: float32 arithmetic in torch's order, equal up to an ulp or two (FMA in
 * torch's vectorised kernels).
 */
function adamwCheck(s: Step): Check {
  const { ref, model, weights } = s;
  const names = [...ref.keys()]
    .filter((k) => k.startsWith('grad.') && !k.startsWith(`grad.${TOKEN_EMBEDDING}`))
    .map((k) => k.slice(5));
  const params = new Map(names.map((n) => [n, { data: toFloat32(entry(weights, n)), shape: entry(weights, n).shape }]));
  const grads = new Map(names.map((n) => [n, toFloat32(entry(ref, `grad.${n}`))]));
  new AdamW(s.adamw).step(params, grads, s.lr);
  const adamw = new Comparison(
    `${model} AdamW on the reference gradients`,
    'tolerance 2 ulp of max(|expected|, 2^-10)',
  );
  for (const n of names) {
    const expected = toFloat32(entry(ref, `updated.${n}`));
    const ours = entry(params, n).data;
    if (n === 'logit_scale') ours[0] = Math.min(Math.max(at(ours, 0), 0), Math.log(100));
    const scale = maxAbs(expected);
    ours.forEach((v, i) =>
      adamw.entry(
        `updated.${n}[${i}]`,
        v,
        at(expected, i),
        2 * 2 ** -23 * Math.max(Math.abs(at(expected, i)), 2 ** -10),
        scale,
      ),
    );
  }
  return adamw.check();
}

/** The model file for `model`: the first (sorted) file in models/ named `<model>.<ext>`. */
function weightsFile(dir: string, model: string): string | undefined {
  const models = join(dir, 'models');
  if (!existsSync(models)) return undefined;
  const file = readdirSync(models)
    .filter((f) => f.split('.')[0] === model)
    .sort()[0];
  return file && join(models, file);
}

export async function trainChecks(dir: string): Promise<Check[]> {
  const trainDir = join(dir, 'train');
  if (!existsSync(trainDir)) return [];
  const checks: Check[] = [];
  for (const file of readdirSync(trainDir)
    .filter((f) => f.endsWith('.safetensors'))
    .sort()) {
    const model = file.slice(0, -'.safetensors'.length);
    const path = weightsFile(dir, model);
    if (!path) {
      checks.push({
        group: 'train',
        name: model,
        passed: false,
        detail: `no ${model}.* weights in ${join(dir, 'models')}`,
      });
      continue;
    }
    const { tensors: ref, metadata } = readSafetensors(join(trainDir, file));
    const o = metadata.adamw ? (JSON.parse(metadata.adamw) as typeof DEFAULT_ADAMW) : DEFAULT_ADAMW;
    const step: Step = {
      model,
      weights: await readCheckpoint(path),
      ref,
      lr: o.lr,
      adamw: { betas: o.betas, eps: o.eps, weightDecay: o.weight_decay, decay: decayAll },
    };
    checks.push(...(await stepChecks(step)), adamwCheck(step));
  }
  return checks;
}
