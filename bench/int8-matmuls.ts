// Dynamic or static int8 for the weight matmuls, decided by measurement (`node
// dist/bench/int8-matmuls.js [--model ViT-B/32] [--rounds 5]`). A random-weight model of the real
// size; each tower compiled three ways: float32, int8 with dynamic matmuls (each batch quantized
// by its own range, the default) and int8 with static matmuls (scales calibrated in advance);
// convolutions are calibrated in both int8 variants. Calibration uses the first half of the
// fixture photos and of the benchmark captions, accuracy the other half (feature cosine to
// float32, worst row); speed is the median CPU and wall seconds of batch-32 encodes, the three
// variants alternating in each round.

import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Graph } from '../src/graph/ir.js';
import { quantizeTower, type MatmulQuantization } from '../src/inference/int8.js';
import { trimPadding } from '../src/inference/text-buckets.js';
import { load } from '../src/load.js';
import { readModel, findModelFiles } from '../src/model-files.js';
import { buildImageGraph, buildTextGraph } from '../src/models/clip.js';
import type { TensorLike } from '../src/runtime/ort-session.js';
import { Session } from '../src/runtime/session.js';
import { describeMachine } from './machine.js';
import { CAPTIONS } from './captions.js';
import { median, randomImages, writeRandomCheckpoint } from './models.js';

const SHARED = join(process.env.CLIP_SHARED_DIR ?? join(process.cwd(), '..', 'shared'), 'fixtures', 'openai-clip');
const { values } = parseArgs({
  options: { model: { type: 'string', default: 'ViT-B/32' }, rounds: { type: 'string', default: '5' } },
});
const model = values.model ?? 'ViT-B/32';
const rounds = Number(values.rounds);
const photosDir = join(SHARED, 'images');
if (!existsSync(photosDir)) throw new Error(`${photosDir} is missing: the fixture photos calibrate and score int8`);

type Variant = 'fp32' | MatmulQuantization;
const VARIANTS: readonly Variant[] = ['fp32', 'dynamic', 'static'];

/** Worst row cosine between two [N, D] feature sets. */
function minCosine(a: Float32Array, b: Float32Array, d: number): number {
  let worst = 1;
  for (let r = 0; r < a.length / d; r++) {
    const x = a.subarray(r * d, (r + 1) * d);
    const y = b.subarray(r * d, (r + 1) * d);
    let xy = 0;
    let xx = 0;
    let yy = 0;
    x.forEach((v, j) => {
      const w = y[j] ?? Number.NaN;
      xy += v * w;
      xx += v * v;
      yy += w * w;
    });
    worst = Math.min(worst, xy / Math.sqrt(xx * yy));
  }
  return worst;
}

const cpuSeconds = (since: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
};

async function measureTower(
  name: string,
  build: () => Graph,
  calibration: Record<string, TensorLike>,
  held: Record<string, TensorLike>,
  speedInput: Record<string, TensorLike>,
): Promise<void> {
  const sessions = new Map<Variant, Session>();
  for (const v of VARIANTS) {
    const graph = build();
    if (v !== 'fp32') await quantizeTower(graph, calibration, { matmuls: v, spinning: false });
    sessions.set(v, await Session.create(graph, { spinning: false }));
  }
  const output = async (v: Variant, feeds: Record<string, TensorLike>) => {
    const session = sessions.get(v);
    if (!session) throw new Error(`no session ${v}`);
    const out = Object.values(await session.run(feeds))[0];
    if (!(out?.data instanceof Float32Array)) throw new Error('no float32 features');
    return out;
  };
  const reference = await output('fp32', held);
  const d = reference.shape[1] ?? 1;
  const cpu = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
  const wall = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
  for (const v of VARIANTS) await output(v, speedInput); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < VARIANTS.length; k++) {
      const v = VARIANTS[(r + k) % VARIANTS.length] ?? 'fp32';
      const c = process.cpuUsage();
      const t = performance.now();
      await output(v, speedInput);
      wall.get(v)?.push((performance.now() - t) / 1000);
      cpu.get(v)?.push(cpuSeconds(c));
    }
  }
  for (const v of VARIANTS) {
    const cosine = minCosine(reference.data as Float32Array, (await output(v, held)).data as Float32Array, d);
    console.log(
      JSON.stringify({
        model,
        tower: name,
        variant: v,
        batch: speedInput[Object.keys(speedInput)[0] ?? '']?.shape[0],
        cpu_s: Number(median(cpu.get(v) ?? []).toFixed(3)),
        wall_s: Number(median(wall.get(v) ?? []).toFixed(3)),
        min_cosine_vs_fp32: Number(cosine.toFixed(5)),
      }),
    );
  }
  for (const s of sessions.values()) await s.release();
}

console.log(JSON.stringify({ machine: describeMachine() }));
const dir = mkdtempSync(join(tmpdir(), 'clip-int8-matmuls-'));
try {
  const checkpoint = join(dir, 'model.pt');
  await writeRandomCheckpoint(model, checkpoint);
  const bpePath = join(SHARED, 'bpe_simple_vocab_16e6.txt.gz');
  const loaded = await load(checkpoint, { bpePath });
  const { stateDict, config } = await readModel(await findModelFiles(checkpoint, {}));
  const photos = readdirSync(photosDir)
    .sort()
    .map((f) => join(photosDir, f));
  const half = Math.floor(photos.length / 2);
  const images = async (paths: string[]) => (await loaded.preprocessBatch(paths)).tensor;
  const R = config.vision.imageResolution;
  await measureTower(
    'image',
    () => buildImageGraph(stateDict, config),
    { images: await images(photos.slice(0, half)) },
    { images: await images(photos.slice(half)) },
    { images: randomImages(32, R) },
  );
  const captions = (list: readonly string[]) => trimPadding(loaded.tokenize(list));
  const mid = Math.floor(CAPTIONS.length / 2);
  await measureTower(
    'text',
    () => buildTextGraph(stateDict, config, { dynamicLength: true }),
    { tokens: captions(CAPTIONS.slice(0, mid)) },
    { tokens: captions(CAPTIONS.slice(mid)) },
    { tokens: captions(Array.from({ length: 32 }, (_, i) => CAPTIONS[i % CAPTIONS.length] ?? '')) },
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
