// Training-step benchmark (standalone: `node dist/bench/train.js [--threads N] [--steps N]
// [--only NAME] [--compare]`). Times Trainer.trainStep (forward + backward in one ONNX Runtime run,
// then AdamW in a WebAssembly kernel) on random-weight models: the fixtures' tiny sizes at batch 8, a
// small ViT and ViT-B/32 at batch 32, and reports how much of the step the optimiser takes.
// With --compare, ViT-B/32 is also timed in PyTorch (bench/reference/clip_reference.py
// --train-step, same checkpoint file, same threads) and `speed_vs_pytorch` (its step time ÷ ours)
// printed. ViT-B/32 runs twice: text cut after the batch's last end token (the default) and at the
// full context (--context cut|full|both).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { OFFICIAL_CONFIGS } from '../src/models/presets.js';
import type { StateDict } from '../src/tensor.js';
import { writeTorchZip } from '../src/weights/torch-writer.js';
import { describeMachine } from './machine.js';
import { findPythonWithTorch, median, peakRssMb } from './models.js';
import type { ClipConfig } from '../src/models/config.js';
import { randomStateDict } from '../src/models/random.js';
import { Trainer, type Batch } from '../src/train/trainer.js';

const text = (width: number, layers: number) => ({
  kind: 'transformer' as const,
  width,
  layers,
  heads: width / 64,
  contextLength: 77,
  vocabSize: 49408,
});
const MODELS: { name: string; cfg: ClipConfig; batch: number }[] = [
  {
    name: 'vit-tiny',
    batch: 8,
    cfg: {
      embedDim: 64,
      vision: { kind: 'vit', width: 64, layers: 2, heads: 1, patchSize: 8, imageResolution: 32 },
      text: text(64, 2),
      activation: 'quick_gelu',
    },
  },
  {
    name: 'rn-tiny',
    batch: 8,
    cfg: {
      embedDim: 64,
      vision: { kind: 'resnet', width: 8, layers: [1, 1, 1, 1], heads: 4, imageResolution: 64 },
      text: text(64, 2),
      activation: 'quick_gelu',
    },
  },
  {
    name: 'vit-small (256w×6, /32, 224px; text 256w×6)',
    batch: 32,
    cfg: {
      embedDim: 256,
      vision: { kind: 'vit', width: 256, layers: 6, heads: 4, patchSize: 32, imageResolution: 224 },
      text: text(256, 6),
      activation: 'quick_gelu',
    },
  },
  { name: 'ViT-B/32', batch: 32, cfg: OFFICIAL_CONFIGS['ViT-B/32']! },
];

/** PyTorch's median step for the same weights (written to a checkpoint it reads), or why not. */
async function pytorchStep(
  sd: StateDict,
  batch: number,
  steps: number,
  threads: number,
): Promise<string | Record<string, unknown>> {
  const python = findPythonWithTorch();
  if (!python) return 'skipped: no python3 with torch (apt-get install python3-torch libopenblas0-openmp)';
  const dir = mkdtempSync(join(tmpdir(), 'clip-train-bench-'));
  try {
    const checkpoint = join(dir, 'model.pt');
    await writeTorchZip(checkpoint, sd);
    const script = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'reference', 'clip_reference.py');
    const r = spawnSync(
      python,
      [script, checkpoint, '--threads', String(threads), '--train-step', String(batch), '--steps', String(steps)],
      {
        encoding: 'utf8',
        env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' },
        maxBuffer: 1 << 24,
      },
    );
    if (r.status !== 0) return `failed: ${r.stderr.trim().split('\n').at(-1)}`;
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function randomBatch(cfg: ClipConfig, n: number): Batch {
  const R = cfg.vision.imageResolution;
  const images = Float32Array.from({ length: n * 3 * R * R }, (_, i) => Math.sin(i * 0.37));
  const L = cfg.text.contextLength;
  const tokens = new Int32Array(n * L);
  for (let r = 0; r < n; r++) {
    tokens[r * L] = 49406;
    for (let j = 1; j < 10 + (r % 20); j++) tokens[r * L + j] = (r * 131 + j * 17) % 49000;
    tokens[r * L + 10 + (r % 20)] = 49407;
  }
  return { images: { data: images, shape: [n, 3, R, R] }, tokens: { data: tokens, shape: [n, L] } };
}

const { values } = parseArgs({
  options: {
    threads: { type: 'string' },
    steps: { type: 'string', default: '5' },
    only: { type: 'string' },
    compare: { type: 'boolean' },
    // ViT-B/32's text context: 'cut' (the default training), 'full' (77 tokens) or 'both' in turn.
    // One per process gives each its own peak RSS (VmHWM never goes down).
    context: { type: 'string', default: 'both' },
  },
});
const CONTEXTS: Record<string, boolean[]> = { cut: [true], full: [false], both: [true, false] };
const contexts = CONTEXTS[values.context ?? 'both'];
if (!contexts) throw new Error(`--context: expected cut, full or both, got "${values.context}"`);
const steps = Number(values.steps);
console.log(JSON.stringify({ machine: describeMachine() }));
for (const { name, cfg, batch } of MODELS.filter((m) => !values.only || m.name.startsWith(values.only))) {
  const data = randomBatch(cfg, batch);
  const rows: Record<string, unknown>[] = [];
  // ViT-B/32 also at the full 77-token context (the reference's work): the default cuts the text
  // tower after the batch's last end token, which gives the same gradients.
  for (const trimPadding of name === 'ViT-B/32' ? contexts : [true]) {
    // Made afresh for each trainer and let go once it is built, like PyTorch's reference lets its
    // loaded state dict go once the model holds the weights: the process holds the weights once.
    let weights: StateDict | undefined = randomStateDict(cfg, 1);
    const t0 = performance.now();
    const trainer = await Trainer.create(weights, cfg, {
      batchSize: batch,
      lr: 1e-4,
      trimPadding,
      runtime: values.threads ? { threads: Number(values.threads) } : {},
    });
    const build = performance.now() - t0;
    weights = undefined;
    await trainer.trainStep(data); // warm-up
    const times: number[] = [];
    const optimiser: number[] = [];
    for (let i = 0; i < steps; i++) {
      const a = performance.now();
      const g = await trainer.computeGradients(data);
      const b = performance.now();
      trainer.applyGradients(g);
      const c = performance.now();
      times.push(c - a);
      optimiser.push(c - b);
    }
    const params = trainer.params.reduce((n, p) => n + trainer.weights.get(p)!.data.length, 0);
    // peak_rss_mb: this process's high-water mark so far (with --only ViT-B/32, the first row is
    // the training alone: the reference's checkpoint is written afterwards).
    rows.push({
      model: name,
      impl: 'ours',
      text: trimPadding ? 'cut after the last end token' : 'full context',
      batch,
      params,
      build_ms: Math.round(build),
      step_ms: Math.round(median(times)),
      adamw_ms: Math.round(median(optimiser)),
      threads: values.threads ?? 'default',
      steps,
      peak_rss_mb: Math.round(peakRssMb()),
    });
    await trainer.release();
  }
  if (values.compare && name === 'ViT-B/32') {
    const reference = await pytorchStep(randomStateDict(cfg, 1), batch, steps, Number(values.threads ?? 2));
    console.log(
      JSON.stringify(
        typeof reference === 'string'
          ? { model: name, impl: 'pytorch', batch, note: reference }
          : { model: name, ...reference },
      ),
    );
    const referenceMs = typeof reference === 'string' ? undefined : (reference.step_ms as number);
    if (referenceMs)
      for (const row of rows) row.speed_vs_pytorch = Number((referenceMs / (row.step_ms as number)).toFixed(2));
  }
  for (const row of rows) console.log(JSON.stringify(row));
}
