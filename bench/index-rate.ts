// `clip index` end to end against its two stages alone, on real photos (the fixture photos, each
// copy resized to a random 1-12 MP, cropped and recoloured so every file is new content, JPEG q90):
//   model alone:         encodeImage on ready tensors, batches of 32 (random ViT-B/32 weights), with the
//                        model's share of the cores (indexingThreads().model: 1 thread on 2 cores);
//   preprocessing alone: preprocessBatch over the files, batches of 32, with the decoders' share
//                        (indexingThreads().decode: concurrency 1 on 2 cores, the other core);
//   end to end:          indexFolders into a new index (hashing, EXIF, decode, model, SQLite), the
//                        model loaded as `clip index` loads it.
// The pipeline should run at ≥ 0.9x the slower stage alone.
//   node dist/bench/index-rate.js [--images 120] [--json]
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { load, OFFICIAL_CONFIGS, randomStateDict, writeSafetensors } from '../src/index.js';
import { at } from '../src/checked.js';
import { indexFolders, indexingThreads, loadIndexModel, openIndex } from '../src/search/index.js';
import { randomImages } from './models.js';

const args = process.argv.slice(2);
const count = Number(args[args.indexOf('--images') + 1]) || 120;
const asJson = args.includes('--json');
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

const clip = await load(checkpoint, { threads: shares.model, spinning: false });
const size = clip.transform.size;
await clip.model.encodeImage(randomImages(BATCH, size)); // warm-up
let t = performance.now();
let cpu = process.cpuUsage();
const modelBatches = Math.ceil(count / BATCH);
for (let b = 0; b < modelBatches; b++) await clip.model.encodeImage(randomImages(BATCH, size));
const modelRate = (modelBatches * BATCH) / ((performance.now() - t) / 1000);
const modelCpu = cpuMsPer(cpu, modelBatches * BATCH);

t = performance.now();
cpu = process.cpuUsage();
for (let b = 0; b < files.length; b += BATCH)
  await clip.preprocessBatch(files.slice(b, b + BATCH), { concurrency: shares.decode });
const preprocessRate = files.length / ((performance.now() - t) / 1000);
const preprocessCpu = cpuMsPer(cpu, files.length);
await clip.model.release();

const model = await loadIndexModel(checkpoint, { threads: shares.model });
const db = openIndex(join(work, 'bench.db'));
t = performance.now();
cpu = process.cpuUsage();
const summary = await indexFolders(db, join(work, 'bench.db'), model, [photos], { batchSize: BATCH });
const endToEnd = summary.added / ((performance.now() - t) / 1000);
const endToEndCpu = cpuMsPer(cpu, summary.added);
db.close();
await model.clip.model.release();
rmSync(work, { recursive: true, force: true });

const result = {
  images: files.length,
  model: 'ViT-B/32 (random weights)',
  batch: BATCH,
  model_images_per_s: +modelRate.toFixed(2),
  preprocess_images_per_s: +preprocessRate.toFixed(2),
  end_to_end_images_per_s: +endToEnd.toFixed(2),
  ratio_to_slower_stage: +(endToEnd / Math.min(modelRate, preprocessRate)).toFixed(3),
  // CPU time of the process per image: on a shared machine, the wall-clock rates above also count
  // waiting for other processes; the end-to-end CPU time against the sum of the stages' shows what
  // the pipeline itself adds (hashing, EXIF, SQLite, contention between its threads).
  model_cpu_ms_per_image: modelCpu,
  preprocess_cpu_ms_per_image: preprocessCpu,
  end_to_end_cpu_ms_per_image: endToEndCpu,
  failed: summary.failed,
};
console.log(
  asJson
    ? JSON.stringify(result)
    : Object.entries(result)
        .map(([k, v]) => `${k}=${v}`)
        .join('  '),
);
