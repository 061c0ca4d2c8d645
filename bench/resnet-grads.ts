// Accuracy of training gradients on a ModifiedResNet at a real resolution (`node
// dist/bench/resnet-grads.js [--resolution 128] [--batch 8] [--width 16]`): one training step of
// clip-ts (float32, ONNX Runtime) against PyTorch's same step in float64 and in float32
// (bench/reference/train_grads.py). Prints, per parameter, the largest error relative to the
// tensor's largest float64 entry, for ours and for PyTorch float32, stem convolutions first,
// and a JSON summary line.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { expandImagePaths } from '../src/embed.js';
import { preprocessBatch } from '../src/image/index.js';
import type { ClipConfig } from '../src/models/config.js';
import { randomStateDict } from '../src/models/random.js';
import { fromFloat32, toFloat32, type StateDict } from '../src/tensor.js';
import { Trainer } from '../src/train/trainer.js';
import { readCheckpoint } from '../src/weights/index.js';
import { writeTorchZip } from '../src/weights/torch-writer.js';
import { findPythonWithTorch } from './models.js';

const { values } = parseArgs({
  options: {
    resolution: { type: 'string', default: '128' },
    batch: { type: 'string', default: '8' },
    width: { type: 'string', default: '16' },
    images: { type: 'string' },
  },
});
const R = Number(values.resolution);
const B = Number(values.batch);
const cfg: ClipConfig = {
  embedDim: 32,
  vision: {
    kind: 'resnet',
    width: Number(values.width),
    layers: [1, 1, 1, 1],
    heads: Number(values.width) / 2,
    imageResolution: R,
  },
  text: { kind: 'transformer', width: 64, layers: 1, heads: 1, contextLength: 77, vocabSize: 49408 },
  activation: 'quick_gelu',
};

/** Random weights, with BatchNorm gains, biases and running statistics away from their init values. */
function weights(): StateDict {
  const sd = randomStateDict(cfg, 3);
  let s = 99;
  const noise = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
  for (const [key, t] of sd) {
    if (!/\.(bn\d|downsample\.1)\.(weight|bias)$/.test(key)) continue;
    const data = toFloat32(t).map((v) => v + (key.endsWith('weight') ? 0.5 : 0.2) * noise());
    sd.set(key, fromFloat32(data, t.shape));
  }
  return sd;
}

/** The images of a folder, preprocessed at R (CLIP's transform), cycled to fill the batch. */
async function photos(folder: string): Promise<Float32Array> {
  const files = expandImagePaths([folder]);
  const { tensor, failures } = await preprocessBatch(files, { size: R, concurrency: 1 });
  if (failures.length === files.length) throw new Error(`no readable image in ${folder}`);
  const per = 3 * R * R;
  const rows = tensor.shape[0]!;
  const out = new Float32Array(B * per);
  for (let i = 0; i < B; i++) out.set(tensor.data.subarray((i % rows) * per, ((i % rows) + 1) * per), i * per);
  return out;
}

const python = findPythonWithTorch();
if (!python) {
  console.log(JSON.stringify({ skipped: 'no python3 with torch (apt-get install python3-torch)' }));
  process.exit(0);
}
const dir = mkdtempSync(join(tmpdir(), 'clip-resnet-grads-'));
try {
  const sd = weights();
  const images = values.images
    ? await photos(values.images)
    : Float32Array.from({ length: B * 3 * R * R }, (_, i) => Math.sin(i * 0.37) + 0.3 * Math.cos(i * 0.011));
  const L = cfg.text.contextLength;
  const tokens = new Int32Array(B * L);
  for (let r = 0; r < B; r++) {
    tokens[r * L] = 49406;
    for (let j = 1; j < 6 + r; j++) tokens[r * L + j] = (r * 131 + j * 17) % 49000;
    tokens[r * L + 6 + r] = 49407;
  }
  await writeTorchZip(join(dir, 'model.pt'), sd);
  await writeTorchZip(
    join(dir, 'batch.pt'),
    new Map([
      ['images', fromFloat32(images, [B, 3, R, R])],
      ['tokens', { dtype: 'int32', shape: [B, L], bytes: new Uint8Array(tokens.buffer) }],
    ]),
  );
  const script = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'reference', 'train_grads.py');
  const run = spawnSync(python, [script, join(dir, 'model.pt'), join(dir, 'batch.pt'), join(dir, 'grads.pt')], {
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`train_grads.py failed: ${run.stderr.trim().split('\n').at(-1)}`);
  const reference = await readCheckpoint(join(dir, 'grads.pt'));

  const trainer = await Trainer.create(sd, cfg, { batchSize: B });
  const ours = await trainer.computeGradients({
    images: { data: images, shape: [B, 3, R, R] },
    tokens: { data: tokens, shape: [B, L] },
  });
  await trainer.release();

  const rows: { name: string; ours: number; torch32: number }[] = [];
  for (const [name, g] of ours.grads) {
    const f64 = reference.get(`f64.${name}`);
    const f32 = reference.get(`f32.${name}`);
    if (!f64 || !f32) continue;
    const exact = toFloat32(f64); // float64 values, rounded once: far below the errors measured here
    const torch32 = toFloat32(f32);
    let scale = 0;
    for (const v of exact) scale = Math.max(scale, Math.abs(v));
    const worst = (a: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - exact[i]!)), 0) / (scale || 1);
    rows.push({ name, ours: worst(g), torch32: worst(torch32) });
  }
  const stem = (n: string) => /^visual\.(conv|bn)\d\./.test(n);
  rows.sort((a, b) => Number(stem(b.name)) - Number(stem(a.name)) || b.ours - a.ours);
  for (const r of rows)
    console.log(`${r.name.padEnd(44)} ours ${r.ours.toExponential(2)}  pytorch f32 ${r.torch32.toExponential(2)}`);
  const worstOf = (pick: (r: (typeof rows)[number]) => number, only = (_: string) => true) =>
    Math.max(...rows.filter((r) => only(r.name)).map(pick));
  console.log(
    JSON.stringify({
      resolution: R,
      stem: R / 2,
      batch: B,
      width: cfg.vision.width,
      parameters: rows.length,
      worst_ours: worstOf((r) => r.ours),
      worst_pytorch_f32: worstOf((r) => r.torch32),
      worst_stem_ours: worstOf((r) => r.ours, stem),
      worst_stem_pytorch_f32: worstOf((r) => r.torch32, stem),
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
