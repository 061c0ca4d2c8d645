// The browser bundle (dist/web/clip.bundle.js) in headless Chromium against the golden fixtures:
// token ids, preprocessed pixels, features and logits of the OpenAI and Chinese-CLIP models (and
// features of the fixture image files preprocessed in the page), on onnxruntime-web's WebAssembly
// backend with one and two threads, and on WebGPU (SwiftShader); the three run at once. Each
// page's time per step is logged (load, image, text, logits, tokenize, files).
// Self-contained sibling: web-bundle.test.ts (random models, Node as the reference).
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import type { ClipConfig } from '../src/models/config.js';
import { randomStateDict } from '../src/models/random.js';
import { allCloseCheck, numericCheck, type Check } from '../src/parity/check.js';
import { at } from '../src/checked.js';
import { CLIP_STD } from '../src/image/normalize.js';
import { toFloat32, toInt32, type RawTensor, type StateDict, type Tensor } from '../src/tensor.js';
import { readSafetensors, serializeSafetensors } from '../src/weights/safetensors.js';
import {
  launchChromium,
  needsChromium,
  openPage,
  startHarness,
  type BrowserHarness,
  type StaticServer,
} from './browser.js';
import { CHINESE_FIXTURES, needsFixtures, OPENAI_FIXTURES, SHARED } from './fixtures.js';
import { f32, fromF32, i32, runInPage, type PageModelJob, type PageModelResult, type PageRuntime } from './web-page.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUNDLE = '/dist/web/clip.bundle.js';
const skipBrowser = needsChromium();
const skipOpenai = skipBrowser || needsFixtures(OPENAI_FIXTURES);
const skipChinese = skipBrowser || needsFixtures(CHINESE_FIXTURES);

/** Random-weight models at 224 px: the fixture models are 32/64 px, the preprocess fixtures go up to 224. */
const VIT_224: ClipConfig = {
  embedDim: 16,
  activation: 'quick_gelu',
  vision: { kind: 'vit', width: 64, layers: 1, heads: 1, patchSize: 32, imageResolution: 224 },
  text: { kind: 'transformer', width: 64, layers: 1, heads: 1, contextLength: 77, vocabSize: 49408 },
};
const CN_224: ClipConfig = {
  embedDim: 16,
  activation: 'quick_gelu',
  vision: VIT_224.vision,
  text: {
    kind: 'bert',
    width: 64,
    layers: 1,
    heads: 1,
    intermediate: 96,
    maxPositions: 64,
    typeVocabSize: 2,
    vocabSize: 21128,
    contextLength: 52,
    activation: 'gelu',
  },
};

let harness: BrowserHarness | undefined;
let server: StaticServer;
let browser: Browser;

before(async () => {
  if (skipBrowser) return;
  assert.ok(existsSync(join(ROOT, 'dist/web/clip.bundle.js')), 'dist/web/clip.bundle.js is missing: run npm run build');
  harness = await startHarness(
    async (temp) => {
      writeFileSync(join(temp, 'vit-224.safetensors'), serializeSafetensors(randomStateDict(VIT_224, 1)));
      writeFileSync(join(temp, 'cn-224.safetensors'), serializeSafetensors(randomStateDict(CN_224, 2)));
    },
    (temp) => ({ '/dist/': join(ROOT, 'dist'), '/fixtures/': join(SHARED, 'fixtures'), '/temp/': temp }),
  );
  ({ server, browser } = harness);
});

after(() => harness?.close());

async function inPage(runtime: PageRuntime, jobs: PageModelJob[], gpuBrowser?: Browser): Promise<PageModelResult[]> {
  const page = await openPage(gpuBrowser ?? browser, server);
  try {
    const results = await runInPage(page, BUNDLE, runtime, jobs);
    console.log(JSON.stringify({ runtime, ms: results.map((r, i) => ({ url: jobs[i]?.url, ...r.ms })) }));
    return results;
  } finally {
    await page.close();
  }
}

function assertChecks(checks: Check[]): void {
  const failed = checks.filter((c) => !c.passed);
  assert.deepEqual(
    failed.map((c) => `${c.name}: maxAbs ${c.maxAbs} (${c.detail})`),
    [],
  );
}

// ---- OpenAI CLIP fixtures ----

const OPENAI_URL = '/fixtures/openai-clip';
const BPE = { bpeUrl: `${OPENAI_URL}/bpe_simple_vocab_16e6.txt.gz` };

interface ModelFixture {
  file: string;
  ref: StateDict;
  /** The reference's image order (OpenAI fixtures). */
  order: string[];
  images: Tensor;
  tokens: Tensor<Int32Array>;
}

/** Images [N, 3, R, R] from per-image tensors. */
function stack(tensors: RawTensor[]): Tensor {
  const parts = tensors.map((t) => toFloat32(t));
  const data = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => {
    data.set(p, at);
    return at + p.length;
  }, 0);
  return { data, shape: [tensors.length, ...tensors[0]!.shape] };
}

const asTensor = (t: RawTensor): Tensor => ({ data: toFloat32(t), shape: t.shape });
const asTokens = (t: RawTensor): Tensor<Int32Array> => ({ data: toInt32(t), shape: t.shape });

function openaiModels(): ModelFixture[] {
  return readdirSync(join(OPENAI_FIXTURES, 'models'))
    .sort()
    .map((file) => {
      const { tensors: ref, metadata } = readSafetensors(
        join(OPENAI_FIXTURES, 'outputs', `${file.split('.')[0]}.safetensors`),
      );
      const order = JSON.parse(metadata.image_order!) as string[];
      const res = file.startsWith('vit') ? 32 : 64;
      const pre = readSafetensors(join(OPENAI_FIXTURES, 'preprocess', `${res}.safetensors`)).tensors;
      const images = stack(order.map((k) => pre.get(k)!));
      return { file, ref, order, images, tokens: asTokens(ref.get('tokens')!) };
    });
}

function featureJob(url: string, m: ModelFixture, load: Record<string, unknown>): PageModelJob {
  return {
    url,
    load,
    images: { data: f32(m.images.data), shape: m.images.shape },
    tokens: { data: i32(m.tokens.data), shape: m.tokens.shape },
  };
}

function openaiFeatureChecks(m: ModelFixture, r: PageModelResult): Check[] {
  return [
    numericCheck(`${m.file} image_features`, fromF32(r.imageFeatures!), m.ref.get('image_features')!, 1e-4),
    numericCheck(`${m.file} text_features`, fromF32(r.textFeatures!), m.ref.get('text_features')!, 1e-4),
    numericCheck(`${m.file} logits_per_image`, fromF32(r.logitsPerImage!), m.ref.get('logits_per_image')!, 1e-3),
    numericCheck(`${m.file} logits_per_text`, fromF32(r.logitsPerText!), m.ref.get('logits_per_text')!, 1e-3),
  ];
}

/** Largest difference in 0..255 pixel units between preprocessed images (normalised floats). */
function maxPixelDifference(ours: Float32Array, ref: Float32Array, size: number): number {
  let max = 0;
  for (let i = 0; i < ref.length; i++)
    max = Math.max(max, Math.abs(ours[i]! - ref[i]!) * CLIP_STD[Math.floor(i / (size * size))]! * 255);
  return Math.round(max * 1000) / 1000;
}

/** Per image: max pixel difference against the reference, or the decoder's error. */
function pixelReport(
  files: string[],
  results: NonNullable<PageModelResult['pixels']>,
  reference: (i: number) => Float32Array,
  size: number,
): Record<string, number | string> {
  const report: Record<string, number | string> = {};
  files.forEach((file, i) => {
    const r = results[i]!;
    report[file] = 'error' in r ? r.error : maxPixelDifference(fromF32(r.data), reference(i), size);
  });
  return report;
}

/** Every image must preprocess to the reference's pixels exactly (cmyk.jpg included). */
function assertExactPixels(report: Record<string, number | string>, label: string): void {
  for (const [file, diff] of Object.entries(report)) assert.equal(diff, 0, `${label} ${file}: max pixel difference`);
}

/**
 * Features of the fixture image files preprocessed in the page (not the reference pixels) against
 * the reference's, within 1e-4: preprocessing and the model end to end.
 */
function fileFeatureReport(m: ModelFixture, images: string[], result: PageModelResult, t: TestContext): void {
  assert.ok(result.fileFeatures, `${m.file}: features of the files`);
  const ours = fromF32(result.fileFeatures);
  const features = m.ref.get('image_features');
  assert.ok(features, `${m.file}: reference image_features`);
  const ref = toFloat32(features);
  const d = ref.length / m.order.length;
  const report: Record<string, number> = {};
  images.forEach((file, i) => {
    const j = m.order.indexOf(file);
    let max = 0;
    for (let k = 0; k < d; k++) max = Math.max(max, Math.abs(at(ours, i * d + k) - at(ref, j * d + k)));
    report[file] = Number(max.toExponential(2));
  });
  const name = m.file.split('.')[0] ?? m.file;
  t.diagnostic(`OpenAI ${name}: max feature difference per image file: ${JSON.stringify(report)}`);
  for (const [file, diff] of Object.entries(report))
    assert.ok(diff <= 1e-4, `${name} ${file}: features differ by ${diff}`);
}

interface OpenaiCase {
  id: number;
  text: string;
  tokenize: { truncate_false: number[] | { error: string }; truncate_true: number[] };
}

/**
 * Jobs for the OpenAI fixture models (features): every file when `full`, which also adds the
 * tokenizer cases and preprocessing at 32, 64 and 224 px; else one file per architecture (the
 * file formats do not change what the runtime computes).
 */
function openaiJobs(full: boolean): {
  jobs: PageModelJob[];
  check: (results: PageModelResult[], t: TestContext) => void;
} {
  const models = openaiModels().filter((m) => full || m.file.endsWith('.jit.pt'));
  const jobs = models.map((m) => featureJob(`${OPENAI_URL}/models/${m.file}`, m, BPE));
  const cases = (
    JSON.parse(readFileSync(join(OPENAI_FIXTURES, 'tokenizer_cases.json'), 'utf8')) as { cases: OpenaiCase[] }
  ).cases;
  const images = readdirSync(join(OPENAI_FIXTURES, 'images')).sort();
  const imageUrls = images.map((f) => `${OPENAI_URL}/images/${f}`);
  const res32 = models.findIndex((m) => m.file.startsWith('vit'));
  const res64 = models.findIndex((m) => m.file.startsWith('rn'));
  if (full) {
    jobs[0]!.texts = cases.map((c) => c.text);
    Object.assign(at(jobs, res32), { files: imageUrls, encodeFiles: true });
    Object.assign(at(jobs, res64), { files: imageUrls, encodeFiles: true });
    jobs.push({ url: '/temp/vit-224.safetensors', load: BPE, files: imageUrls });
  }
  const check = (results: PageModelResult[], t: TestContext) => {
    assertChecks(models.flatMap((m, i) => openaiFeatureChecks(m, results[i]!)));
    if (!full) return;
    const tokenized = results[0]!.tokenized!;
    const wrong = cases.filter((c, i) => {
      const [whole, cut] = tokenized[i]!;
      const expected = c.tokenize.truncate_false;
      const wholeOk = Array.isArray(expected)
        ? JSON.stringify(whole) === JSON.stringify(expected)
        : typeof whole === 'string' && /too long/.test(whole);
      return !wholeOk || JSON.stringify(cut) !== JSON.stringify(c.tokenize.truncate_true);
    });
    assert.deepEqual(
      wrong.map((c) => c.id),
      [],
      'tokenizer cases whose ids differ in the browser',
    );
    for (const [size, result] of [
      [32, results[res32]!],
      [64, results[res64]!],
      [224, results[models.length]!],
    ] as const) {
      const pre = readSafetensors(join(OPENAI_FIXTURES, 'preprocess', `${size}.safetensors`)).tensors;
      const report = pixelReport(images, result.pixels!, (i) => toFloat32(pre.get(images[i]!)!), size);
      t.diagnostic(`OpenAI: max pixel difference per image at ${size}: ${JSON.stringify(report)}`);
      assertExactPixels(report, `${size} px`);
    }
    fileFeatureReport(at(models, res32), images, at(results, res32), t);
    fileFeatureReport(at(models, res64), images, at(results, res64), t);
  };
  return { jobs, check };
}

// ---- Chinese-CLIP fixtures ----

const CN_URL = '/fixtures/chinese-clip';
const VOCAB = { vocabUrl: `${CN_URL}/vocab.txt` };

function chineseModels(): ModelFixture[] {
  return readdirSync(join(CHINESE_FIXTURES, 'models'))
    .filter((f) => f.endsWith('.pt'))
    .sort()
    .map((file) => {
      const { tensors: ref } = readSafetensors(
        join(CHINESE_FIXTURES, 'outputs', file.replace(/\.pt$/, '.safetensors')),
      );
      return {
        file,
        ref,
        order: [],
        images: asTensor(ref.get('image.pixel_values')!),
        tokens: asTokens(ref.get('text.input_ids')!),
      };
    });
}

function chineseFeatureChecks(m: ModelFixture, r: PageModelResult): Check[] {
  return [
    allCloseCheck(`${m.file} image.embeds`, fromF32(r.imageFeatures!), m.ref.get('image.embeds')!, 5e-5, 5e-5),
    allCloseCheck(`${m.file} text.embeds`, fromF32(r.textFeatures!), m.ref.get('text.embeds')!, 5e-5, 5e-5),
    allCloseCheck(`${m.file} logits_per_image`, fromF32(r.logitsPerImage!), m.ref.get('logits_per_image')!, 5e-5, 5e-5),
    allCloseCheck(`${m.file} logits_per_text`, fromF32(r.logitsPerText!), m.ref.get('logits_per_text')!, 5e-5, 5e-5),
  ];
}

/** Jobs for every Chinese-CLIP fixture model (features); `full` adds the WordPiece cases and preprocessing. */
function chineseJobs(full: boolean): {
  jobs: PageModelJob[];
  check: (results: PageModelResult[], t: TestContext) => void;
} {
  const models = chineseModels();
  const manifest = JSON.parse(readFileSync(join(CHINESE_FIXTURES, 'manifest.json'), 'utf8')) as {
    images: { file: string }[];
  };
  const imageUrls = manifest.images.map((i) => `${CN_URL}/${i.file}`);
  const cases = (
    JSON.parse(readFileSync(join(CHINESE_FIXTURES, 'tokenizer_cases.json'), 'utf8')) as {
      cases: { id: number; text: string; input_ids: number[] }[];
    }
  ).cases;
  const jobs = models.map((m) => featureJob(`${CN_URL}/models/${m.file}`, m, VOCAB));
  const resolutions = models.map((m) => m.images.shape[2]!);
  if (full) {
    jobs[0]!.texts = cases.map((c) => c.text);
    jobs.forEach((job) => {
      job.files = imageUrls;
    });
    jobs.push({ url: '/temp/cn-224.safetensors', load: VOCAB, files: imageUrls });
  }
  const check = (results: PageModelResult[], t: TestContext) => {
    assertChecks(models.flatMap((m, i) => chineseFeatureChecks(m, results[i]!)));
    if (!full) return;
    const wrong = cases.filter((c, i) => JSON.stringify(results[0]!.tokenized![i]![0]) !== JSON.stringify(c.input_ids));
    assert.deepEqual(
      wrong.map((c) => c.id),
      [],
      'WordPiece cases whose ids differ in the browser',
    );
    for (const [size, result] of [
      ...resolutions.map((r, i) => [r, results[i]!] as const),
      [224, results[models.length]!] as const,
    ]) {
      const pixelValues = toFloat32(
        readSafetensors(join(CHINESE_FIXTURES, 'preprocess', `res${size}.safetensors`)).tensors.get('pixel_values')!,
      );
      const per = 3 * size * size;
      const report = pixelReport(
        imageUrls.map((u) => u.split('/').at(-1)!),
        result.pixels!,
        (i) => pixelValues.subarray(i * per, (i + 1) * per),
        size,
      );
      t.diagnostic(`Chinese-CLIP: max pixel difference per image at ${size}: ${JSON.stringify(report)}`);
      assertExactPixels(report, `${size} px`);
    }
  };
  return { jobs, check };
}

/** OpenAI then Chinese-CLIP jobs on one page (one onnxruntime-web start per mode). */
async function runFixtures(runtime: PageRuntime, full: boolean, t: TestContext): Promise<void> {
  const openai = openaiJobs(full);
  const chinese = chineseJobs(full);
  const jobs = [...openai.jobs, ...chinese.jobs].map((job) => ({ ...job, forward: full }));
  const results = await inPage(runtime, jobs);
  openai.check(results.slice(0, openai.jobs.length), t);
  chinese.check(results.slice(openai.jobs.length), t);
}

const skipFixtures = skipOpenai || skipChinese;

// The three backends run at once, each on its own page (WebGPU in its own browser): most of each
// run is one busy thread (JavaScript preprocessing, onnxruntime-web's one-thread kernels,
// SwiftShader compiling shaders), so together they take about the time of the slowest.
describe('fixtures in Chromium, three backends at once', { concurrency: 3 }, () => {
  test('WASM, 1 thread: token ids, pixels (32/64/224 px), features and logits of every fixture model file', {
    skip: skipFixtures,
    timeout: 400_000,
  }, async (t) => {
    await runFixtures({ threads: 1 }, true, t);
  });

  test('WASM, 2 threads (cross-origin isolated): features and logits of the fixture ViT and ResNet models', {
    skip: skipFixtures,
    timeout: 400_000,
  }, async (t) => {
    await runFixtures({ threads: 2 }, false, t);
  });

  // ---- WebGPU ----

  test('WebGPU on SwiftShader: OpenAI and Chinese-CLIP ViT fixture features and logits (correctness only)', {
    skip: skipFixtures,
    timeout: 400_000,
  }, async (t) => {
    const gpu = await launchChromium({ webgpu: true });
    try {
      const probe = await openPage(gpu, server);
      type Gpu = { gpu?: { requestAdapter(): Promise<unknown> } };
      const adapter = await probe.evaluate(async () =>
        Boolean(await (globalThis as unknown as { navigator: Gpu }).navigator.gpu?.requestAdapter()),
      );
      await probe.close();
      if (!adapter) {
        t.skip('SKIPPED: Chromium offers no WebGPU adapter here (SwiftShader WebGPU unavailable)');
        console.warn('\n*** SKIPPED: no WebGPU adapter in Chromium ***\n');
        return;
      }
      const openai = openaiModels().filter((m) => m.file === 'vit-tiny.jit.pt');
      const chinese = chineseModels().filter((m) => m.file === 'vit-tiny.pt');
      const results = await inPage(
        { executionProviders: ['webgpu'] },
        [
          ...openai.map((m) => featureJob(`${OPENAI_URL}/models/${m.file}`, m, BPE)),
          ...chinese.map((m) => featureJob(`${CN_URL}/models/${m.file}`, m, VOCAB)),
        ],
        gpu,
      );
      assertChecks([
        ...openaiFeatureChecks(openai[0]!, results[0]!),
        ...chineseFeatureChecks(chinese[0]!, results[1]!),
      ]);
    } finally {
      await gpu.close();
    }
  });
});
