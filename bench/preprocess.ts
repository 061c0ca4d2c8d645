// Preprocessing throughput on large real JPEGs (~12 MP, made in the temp folder by upscaling the
// fixture photos with sharp), to CLIP's 224: the exact path, the fast path (JPEG shrink-on-load,
// not bit-exact) and, when python3 with Pillow + torchvision is installed, the reference itself.
// Sequential figures are the best of N rounds on both sides (least CPU time: other load on a
// shared machine only adds to it); CPU ms/image is the per-core measure.
//   node dist/bench/preprocess.js [--json] [--rounds N]
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { decodeImage, preprocess, preprocessBatch, transformPixels } from '../src/image/index.js';
import { decodeForTransform } from '../src/image/preprocess.js';

const SIZE = 224;
const MEGAPIXELS = 12;
const args = process.argv.slice(2);
const asJson = args.includes('--json');
const rounds = Number(args[args.indexOf('--rounds') + 1]) || 2;
const log = (line: string) => {
  if (!asJson) console.log(line);
};

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const photos = join(process.env.CLIP_SHARED_DIR ?? join(repoRoot, '..', 'shared'), 'fixtures', 'openai-clip', 'images');
const PHOTO_NAMES = [
  'astronaut.jpg',
  'chelsea.png',
  'coffee_444.jpg',
  'rocket.jpg',
  'motorcycle.webp',
  'progressive.jpg',
];

/** ~12 MP JPEGs (q90, 4:2:0), made once; synthetic noise pictures when the fixtures are absent. */
async function makeImages(): Promise<string[]> {
  const dir = join(tmpdir(), 'clip-bench-images');
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  for (const [i, name] of PHOTO_NAMES.entries()) {
    const out = join(dir, `${name.replace(/\.\w+$/, '')}_12mp.jpg`);
    files.push(out);
    if (existsSync(out)) continue;
    const source = existsSync(join(photos, name))
      ? sharp(join(photos, name))
      : sharp(Buffer.from(Uint8Array.from({ length: 64 * 48 * 3 }, (_, k) => (k * (i + 7) * 2654435761) >>> 24)), {
          raw: { width: 64, height: 48, channels: 3 },
        });
    const meta = await source.clone().metadata();
    const scale = Math.sqrt((MEGAPIXELS * 1e6) / (meta.width! * meta.height!));
    await source
      .resize(Math.round(meta.width! * scale), Math.round(meta.height! * scale), { kernel: 'lanczos3' })
      .jpeg({ quality: 90 })
      .toFile(out);
  }
  return files;
}

/**
 * Wall-clock images/s and CPU milliseconds per image (all threads of the process), from the
 * round with the least CPU time: on a shared machine, other load only ever adds to it.
 */
interface Timing {
  imagesPerSecond: number;
  cpuMsPerImage: number;
}

async function timeRounds<T>(items: T[], run: (item: T) => unknown): Promise<Timing> {
  await run(items[0]!); // warm-up (JIT, libvips caches)
  let best: Timing = { imagesPerSecond: 0, cpuMsPerImage: Infinity };
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    const cpu = process.cpuUsage();
    for (const item of items) await run(item);
    const used = process.cpuUsage(cpu);
    const cpuMsPerImage = (used.user + used.system) / 1000 / items.length;
    if (cpuMsPerImage < best.cpuMsPerImage)
      best = { imagesPerSecond: items.length / ((performance.now() - start) / 1000), cpuMsPerImage };
  }
  return best;
}

/** One preprocessBatch over every image `rounds` times (worker start-up included). */
async function timeBatch(files: string[], concurrency: number): Promise<Timing> {
  const list = Array.from({ length: rounds }, () => files).flat();
  const start = performance.now();
  const cpu = process.cpuUsage();
  await preprocessBatch(list, { size: SIZE, concurrency });
  const used = process.cpuUsage(cpu);
  return {
    imagesPerSecond: list.length / ((performance.now() - start) / 1000),
    cpuMsPerImage: (used.user + used.system) / 1000 / list.length,
  };
}

function absDiff(a: Float32Array, b: Float32Array): { max: number; mean: number } {
  let max = 0,
    sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / a.length };
}

// Debian's python3 (where apt installs python3-pil / python3-torchvision) unless PYTHON is set.
const PYTHON_BIN = process.env.PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');

const PYTHON = `
import os, sys, time, torch
from PIL import Image
from torchvision.transforms import Compose, Resize, CenterCrop, ToTensor, Normalize, InterpolationMode
torch.set_num_threads(1)
t = Compose([Resize(224, interpolation=InterpolationMode.BICUBIC), CenterCrop(224), lambda im: im.convert('RGB'),
             ToTensor(), Normalize((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))])
rounds, tensors, files = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
def run(draft):
    def one(f):
        im = Image.open(f)
        if draft: im.draft('RGB', (448, 448))
        return t(im)
    one(files[0])
    best = None
    for _ in range(rounds):
        s, c = time.perf_counter(), time.process_time()
        for f in files: one(f)
        cpu, wall = (time.process_time() - c) * 1000 / len(files), time.perf_counter() - s
        if best is None or cpu < best[1]: best = [len(files) / wall, cpu]
    return best
print(*run(False), *run(True))
for f in files: t(Image.open(f)).numpy().astype('<f4').tofile(os.path.join(tensors, os.path.basename(f) + '.f32'))
`;

interface Reference {
  exact: Timing;
  draft: Timing;
  tensors: Map<string, Float32Array>;
}

/** The reference's timings and its float32 [3, n, n] output per file. */
function pythonReference(files: string[]): Reference | string {
  const probe = spawnSync(PYTHON_BIN, ['-c', 'import PIL, torch, torchvision'], { encoding: 'utf8' });
  if (probe.status !== 0)
    return 'SKIPPED: python3 with Pillow + torchvision not found (apt-get install -y python3-pil python3-torchvision)';
  const dir = mkdtempSync(join(tmpdir(), 'clip-bench-reference-'));
  const out = execFileSync(PYTHON_BIN, ['-c', PYTHON, String(rounds), dir, ...files], { encoding: 'utf8' })
    .trim()
    .split(/\s+/)
    .map(Number);
  const tensors = new Map(
    files.map((f) => [f, new Float32Array(readFileSync(join(dir, `${basename(f)}.f32`)).buffer.slice(0))]),
  );
  rmSync(dir, { recursive: true });
  return {
    exact: { imagesPerSecond: out[0]!, cpuMsPerImage: out[1]! },
    draft: { imagesPerSecond: out[2]!, cpuMsPerImage: out[3]! },
    tensors,
  };
}

/** Values of `a` that are not the very same float32 as in `b`. */
function countDiffering(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Math.max(a.length, b.length);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) n++;
  return n;
}

async function main() {
  const files = await makeImages();
  const meta = await sharp(files[0]!).metadata();
  log(
    `${files.length} JPEGs of ~${MEGAPIXELS} MP (e.g. ${meta.width}×${meta.height}) in ${dirname(files[0]!)}, to ` +
      `${SIZE}×${SIZE}, ${rounds} rounds`,
  );

  const decodeOnly = await timeRounds(files, (f) => decodeImage(f));
  const decodePart = await timeRounds(files, (f) => decodeForTransform(f, { size: SIZE }));
  const parts = await Promise.all(files.map((f) => decodeForTransform(f, { size: SIZE })));
  const resizeOnly = await timeRounds(parts, (img) => transformPixels(img, { size: SIZE }));
  const exact = await timeRounds(files, (f) => preprocess(f, { size: SIZE }));
  const fast = await timeRounds(files, (f) => preprocess(f, { size: SIZE, fastJpeg: true }));
  const cores = availableParallelism();
  const batchOneWorker = await timeBatch(files, 1);
  const batchAllCores = await timeBatch(files, cores);

  const python = pythonReference(files);
  const py = typeof python === 'string' ? undefined : python;
  const diffs: Record<string, { max: number; mean: number }> = {};
  let differingFromPil = 0;
  for (const f of files) {
    const a = await preprocess(f, { size: SIZE });
    const b = await preprocess(f, { size: SIZE, fastJpeg: true });
    diffs[basename(f)] = absDiff(a.data, b.data);
    if (py) differingFromPil += countDiffering(a.data, py.tensors.get(f)!);
  }

  const result = {
    images: files.length,
    megapixels: MEGAPIXELS,
    size: SIZE,
    rounds,
    cores,
    decodeOnly,
    decodePart,
    resizeOnly,
    exact,
    fastJpeg: fast,
    exactBatchOneThread: batchOneWorker,
    exactBatchAllCores: batchAllCores,
    pilTorchvision: py?.exact ?? null,
    pilDraftTorchvision: py?.draft ?? null,
    exactValuesDifferingFromPil: py ? differingFromPil : null,
    // Per-core ratio = reference CPU time per image / ours (> 1: we are faster per core).
    perCoreRatioExactVsPil: py ? py.exact.cpuMsPerImage / exact.cpuMsPerImage : null,
    perCoreRatioFastVsPilDraft: py ? py.draft.cpuMsPerImage / fast.cpuMsPerImage : null,
    fastPathAbsDiff: diffs,
    python: typeof python === 'string' ? python : 'ok',
  };
  if (asJson) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  const f = (t: Timing) => `${t.imagesPerSecond.toFixed(2)} images/s wall, ${t.cpuMsPerImage.toFixed(0)} ms CPU/image`;
  log(`decode only (sharp, full size, 1 at a time):      ${f(decodeOnly)}`);
  log(`decode only the part the crop reads (exact path): ${f(decodePart)}`);
  log(`resize + crop + normalise of those parts:         ${f(resizeOnly)}`);
  log(`exact preprocess, 1 at a time (1 JS thread):      ${f(exact)}`);
  log(`fast path (shrink-on-load to short side 2×${SIZE}):  ${f(fast)}`);
  log(`exact preprocessBatch, on the calling thread:     ${f(batchOneWorker)}`);
  log(`exact preprocessBatch, ${cores} worker threads:        ${f(batchAllCores)} (start-up included)`);
  if (!py) log(String(python));
  else {
    log(
      `PIL + torchvision (1 thread):                     ${f(py.exact)}  -> per-core ratio ours/PIL ` +
        `${(py.exact.cpuMsPerImage / exact.cpuMsPerImage).toFixed(2)}×`,
    );
    log(
      `PIL draft(448) + torchvision (1 thread):          ${f(py.draft)}  -> per-core ratio fast/draft ` +
        `${(py.draft.cpuMsPerImage / fast.cpuMsPerImage).toFixed(2)}×`,
    );
    log(
      `exact path vs PIL + torchvision: ${differingFromPil} of ${files.length * 3 * SIZE * SIZE} float32 values differ`,
    );
  }
  log(
    `fast path vs exact, |Δ| of the normalised tensor (max / mean): ${Object.entries(diffs)
      .map(([k, v]) => `${k} ${v.max.toFixed(3)} / ${v.mean.toFixed(4)}`)
      .join(', ')}`,
  );
  writeFileSync(join(tmpdir(), 'clip-bench-preprocess.json'), JSON.stringify(result, null, 2));
}

await main();
