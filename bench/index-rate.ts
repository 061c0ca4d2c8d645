// `clip index` end to end against its two stages alone, on real photos (the fixture photos, each
// copy resized to a random 1-12 MP, cropped and recoloured so every file is new content, JPEG q90),
// all three with the model `clip index` loads (random ViT-B/32 weights, on its own thread, with its
// share of the cores: indexingThreads().model, 1 thread on 2 cores) and its batches (MODEL_BATCH):
//   model alone:         encodeImage on a ready tensor;
//   preprocessing alone: preprocessBatch over the files with the decoders' share
//                        (indexingThreads().decode: concurrency 1 on 2 cores, the other core);
//   end to end:          indexFolders into a new index (hashing, EXIF, decode, model, SQLite).
// The pipeline should run at ≥ 0.9x the slower stage alone.
//   node dist/bench/index-rate.js [--images 120] [--rounds 3] [--json]
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { loadInWorker, OFFICIAL_CONFIGS, randomStateDict, writeSafetensors } from '../src/index.js';
import { at } from '../src/checked.js';
import { indexFolders, indexingThreads, loadIndexModel, MODEL_BATCH, openIndex } from '../src/search/index.js';
import { randomImages } from './models.js';

const args = process.argv.slice(2);
const count = Number(args[args.indexOf('--images') + 1]) || 120;
const roundCount = Number(args[args.indexOf('--rounds') + 1]) || 3;
const asJson = args.includes('--json');
/** Images per commit, `clip index`'s default. */
const BATCH = 32;

/** CPU milliseconds of this process since `since`, per image. */
function cpuMsPer(since: NodeJS.CpuUsage, images: number): number {
  const used = process.cpuUsage(since);
  return +((used.user + used.system) / 1000 / images).toFixed(1);
}
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const fixtures = join(
  process.env.CLIP_SHARED_DIR ?? join(repoRoot, '..', 'shared'),
  'fixtures',
  'openai-clip',
  'images',
);
const SOURCES = ['astronaut.jpg', 'chelsea.png', 'coffee_444.jpg', 'rocket.jpg', 'motorcycle.webp', 'progressive.jpg'];

async function makePhotos(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  if (readdirSync(dir).length >= count) return;
  let s = 17;
  const rand = () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  for (let i = 0; i < count; i++) {
    const source = join(fixtures, at(SOURCES, i % SOURCES.length));
    const base = existsSync(source)
      ? sharp(source)
      : sharp({ create: { width: 640, height: 480, channels: 3, background: { r: i, g: 90, b: 160 } } });
    const { width = 640, height = 480 } = await base.clone().metadata();
    const megapixels = 1 + 11 * rand();
    const scale = Math.sqrt((megapixels * 1e6) / (width * height));
    await base
      .clone()
      .extract({
        left: Math.floor(rand() * width * 0.1),
        top: 0,
        width: Math.floor(width * 0.9),
        height,
      })
      .resize(Math.round(width * 0.9 * scale), Math.round(height * scale), { kernel: 'lanczos3' })
      .modulate({ brightness: 0.8 + 0.4 * rand(), hue: Math.floor(rand() * 40) })
      .jpeg({ quality: 90 })
      .toFile(join(dir, `photo-${String(i).padStart(4, '0')}.jpg`));
  }
}

const photos = join(tmpdir(), `clip-bench-index-${count}`);
await makePhotos(photos);
const files = readdirSync(photos)
  .filter((f) => f.endsWith('.jpg'))
  .sort()
  .slice(0, count)
  .map((f) => join(photos, f));
const work = mkdtempSync(join(tmpdir(), 'clip-bench-index-'));
const checkpoint = join(work, 'vit-b-32.safetensors');
const vitB32 = OFFICIAL_CONFIGS['ViT-B/32'];
if (!vitB32) throw new Error('ViT-B/32 is not among the official configs');
writeSafetensors(checkpoint, randomStateDict(vitB32, 1));
const shares = indexingThreads();

// One model for all three measurements, loaded as `clip index` loads it (its own thread, its share of the cores).
const model = await loadIndexModel(checkpoint, { threads: shares.model }, loadInWorker);
const { clip } = model;
const size = clip.transform.size;
const images = randomImages(MODEL_BATCH, size);
clip.model.favour(); // as `clip index` does
await clip.model.encodeImage(images); // warm-up: the session is created on first use
const median = (values: number[]) =>
  at(
    [...values].sort((a, b) => a - b),
    Math.floor(values.length / 2),
  );

interface Round {
  model: number;
  preprocess: number;
  endToEnd: number;
  cpu: { model: number; preprocess: number; endToEnd: number };
}
async function round(r: number): Promise<Round> {
  let t = performance.now();
  let cpu = process.cpuUsage();
  const modelCalls = Math.ceil(count / MODEL_BATCH);
  for (let b = 0; b < modelCalls; b++) await clip.model.encodeImage(images);
  const modelRate = (modelCalls * MODEL_BATCH) / ((performance.now() - t) / 1000);
  // The model's thread is not this process's main thread, but its CPU time is this process's.
  const modelCpu = cpuMsPer(cpu, modelCalls * MODEL_BATCH);

  t = performance.now();
  cpu = process.cpuUsage();
  for (let b = 0; b < files.length; b += MODEL_BATCH)
    await clip.preprocessBatch(files.slice(b, b + MODEL_BATCH), { concurrency: shares.decode });
  const preprocessRate = files.length / ((performance.now() - t) / 1000);
  const preprocessCpu = cpuMsPer(cpu, files.length);

  const dbPath = join(work, `bench-${r}.db`);
  const db = openIndex(dbPath);
  t = performance.now();
  cpu = process.cpuUsage();
  const summary = await indexFolders(db, dbPath, model, [photos], { batchSize: BATCH });
  const endToEnd = summary.added / ((performance.now() - t) / 1000);
  const endToEndCpu = cpuMsPer(cpu, summary.added);
  db.close();
  if (summary.failed) throw new Error(`${summary.failed} photos failed to index: ${summary.failures[0]?.error}`);
  return {
    model: modelRate,
    preprocess: preprocessRate,
    endToEnd,
    cpu: { model: modelCpu, preprocess: preprocessCpu, endToEnd: endToEndCpu },
  };
}

// Rounds alternate the three measurements, so a change in the machine's speed (other tenants,
// clocks) reaches all three; the medians are reported.
const rounds: Round[] = [];
for (let r = 0; r < roundCount; r++) rounds.push(await round(r));
await clip.model.release();
rmSync(work, { recursive: true, force: true });

const fixed = (v: number, digits = 2) => +v.toFixed(digits);
const modelRate = median(rounds.map((r) => r.model));
const preprocessRate = median(rounds.map((r) => r.preprocess));
const endToEnd = median(rounds.map((r) => r.endToEnd));
const result = {
  images: files.length,
  rounds: roundCount,
  model: 'ViT-B/32 (random weights)',
  model_batch: MODEL_BATCH,
  commit_batch: BATCH,
  model_images_per_s: fixed(modelRate),
  preprocess_images_per_s: fixed(preprocessRate),
  end_to_end_images_per_s: fixed(endToEnd),
  ratio_to_slower_stage: fixed(endToEnd / Math.min(modelRate, preprocessRate), 3),
  // Each round's rates, model / preprocessing / end to end, and the ratio in that round.
  per_round: rounds.map(
    (r) =>
      `${fixed(r.model)}/${fixed(r.preprocess)}/${fixed(r.endToEnd)} ` +
      `(${fixed(r.endToEnd / Math.min(r.model, r.preprocess), 3)})`,
  ),
  // CPU time of the process per image (medians): on a shared machine, the wall-clock rates above
  // also count waiting for other processes; the end-to-end CPU time against the sum of the
  // stages' shows what the pipeline itself adds (hashing, EXIF, SQLite, contention between threads).
  model_cpu_ms_per_image: median(rounds.map((r) => r.cpu.model)),
  preprocess_cpu_ms_per_image: median(rounds.map((r) => r.cpu.preprocess)),
  end_to_end_cpu_ms_per_image: median(rounds.map((r) => r.cpu.endToEnd)),
};
console.log(
  asJson
    ? JSON.stringify(result)
    : Object.entries(result)
        .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(', ') : v}`)
        .join('  '),
);
