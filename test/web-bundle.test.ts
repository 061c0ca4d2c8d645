// dist/web/clip.bundle.js in headless Chromium against Node on inputs made here (no fixtures):
// a random-weight model, a small BPE merges file, images encoded by sharp. Token ids and pixels
// must be identical to Node's, features within 1e-4; downloads are cached with their sha256.
// Sibling of web-browser.test.ts (the golden fixtures).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import type { Browser, Page } from 'playwright-core';
import { CLIP } from '../src/inference/clip.js';
import { clipLogits } from '../src/inference/logits.js';
import { inferConfigFromStateDict, type ClipConfig } from '../src/models/config.js';
import { randomStateDict } from '../src/models/random.js';
import { compareArrays } from '../src/parity/check.js';
import { preprocess } from '../src/image/preprocess.js';
import { Tokenizer } from '../src/text/tokenizer.js';
import { vocabFromMerges } from '../src/text/vocab.js';
import { serializeSafetensors } from '../src/weights/safetensors.js';
import {
  needsChromium,
  openPage,
  serveStatic,
  startHarness,
  type BrowserHarness,
  type StaticServer,
} from './browser.js';
import { f32, fromF32, i32, runInPage } from './web-page.js';

// Browser globals used inside page.evaluate (the project's type library has no DOM).
declare const caches: {
  delete(name: string): Promise<boolean>;
  open(name: string): Promise<{
    match(url: string): Promise<Response | undefined>;
    put(url: string, response: Response): Promise<void>;
  }>;
};
declare const location: { href: string };
declare const crossOriginIsolated: boolean;

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUNDLE = '/dist/web/clip.bundle.js';
const skip = needsChromium();

const MERGES = [
  '#version: 0.2',
  'h e',
  'l l',
  'o </w>',
  'he ll',
  'a t</w>',
  'c at</w>',
  'd o',
  'do g</w>',
  'p h',
  'o t',
  'ph ot',
  'phot o</w>',
].join('\n');
const TOKENIZER = Tokenizer.fromMergesText(MERGES);
const CONFIG: ClipConfig = {
  embedDim: 16,
  activation: 'quick_gelu',
  vision: { kind: 'vit', width: 64, layers: 2, heads: 2, patchSize: 16, imageResolution: 48 },
  text: { kind: 'transformer', width: 64, layers: 2, heads: 2, contextLength: 77, vocabSize: TOKENIZER.eotToken + 1 },
};
const TEXTS = ['hello', 'a photo of a cat', 'a dog!', 'it’s café &amp; ﬁne', '猫の写真 🐱', ''];

let harness: BrowserHarness | undefined;
let server: StaticServer;
let browser: Browser;
let temp: string;
const images: string[] = [];

/** The model, its merges file beside it, and images encoded by sharp. */
async function prepare(temp: string): Promise<void> {
  writeFileSync(join(temp, 'model.safetensors'), serializeSafetensors(randomStateDict(CONFIG, 7)));
  writeFileSync(join(temp, 'bpe_simple_vocab_16e6.txt.gz'), gzipSync(MERGES));
  const { width, height } = { width: 131, height: 77 };
  const raw = new Uint8Array(width * height * 3).map((_, i) => (i * 37 + Math.floor(i / 393) * 11) % 251);
  const card = () => sharp(raw, { raw: { width, height, channels: 3 } }).blur(1.5);
  const files: [string, Buffer][] = [
    ['card.jpg', await card().jpeg({ quality: 85 }).toBuffer()],
    ['card.png', await card().png().toBuffer()],
    ['card.webp', await card().webp({ quality: 80 }).toBuffer()],
    ['tall.jpg', await card().rotate(90).jpeg({ quality: 70, chromaSubsampling: '4:4:4' }).toBuffer()],
  ];
  for (const [name, bytes] of files) {
    writeFileSync(join(temp, name), bytes);
    images.push(name);
  }
}

before(async () => {
  if (skip) return;
  assert.ok(existsSync(join(ROOT, 'dist/web/clip.bundle.js')), 'dist/web/clip.bundle.js is missing: run npm run build');
  harness = await startHarness(prepare, (temp) => ({ '/dist/': join(ROOT, 'dist'), '/temp/': temp }));
  ({ server, browser, temp } = harness);
});

after(() => harness?.close());

test("the bundle gives Node's token ids and pixels exactly and its features within 1e-4 (WASM, 1 thread)", {
  skip,
  timeout: 120_000,
}, async (t) => {
  const pixels = await Promise.all(images.map((f) => preprocess(join(temp, f), { size: 48 })));
  const batch = new Float32Array(pixels.flatMap((p) => [...p.data]));
  const tokens = TOKENIZER.tokenize(TEXTS);
  const node = new CLIP(randomStateDict(CONFIG, 7));
  const imageShape = [images.length, 3, 48, 48];
  const nodeImage = await node.encodeImage({ data: batch, shape: imageShape });
  const nodeText = await node.encodeText(tokens);
  await node.release();

  const page = await openPage(browser, server);
  try {
    // The model by URL; its tokenizer found beside it (bpe_simple_vocab_16e6.txt.gz).
    const [r] = await runInPage(page, BUNDLE, { threads: 1 }, [
      {
        url: '/temp/model.safetensors',
        texts: TEXTS,
        files: images.map((f) => `/temp/${f}`),
        images: { data: f32(batch), shape: imageShape },
        tokens: { data: i32(tokens.data), shape: tokens.shape },
        forward: true,
      },
    ]);
    TEXTS.forEach((text, i) => assert.deepEqual(r!.tokenized![i]![0], Array.from(TOKENIZER.tokenize(text).data), text));
    r!.pixels!.forEach((p, i) => {
      assert.ok('data' in p, `${images[i]}: ${'error' in p ? p.error : ''}`);
      assert.deepEqual(fromF32(p.data), pixels[i]!.data, `${images[i]}: pixels`);
    });
    const image = compareArrays(fromF32(r!.imageFeatures!), nodeImage.data);
    const text = compareArrays(fromF32(r!.textFeatures!), nodeText.data);
    t.diagnostic(`browser vs Node features: image max |Δ| ${image.maxAbs}, text max |Δ| ${text.maxAbs}`);
    assert.ok(image.maxAbs <= 1e-4 && text.maxAbs <= 1e-4);
    // model.forward in the page against Node's logits of Node's features.
    const logits = clipLogits(nodeImage, nodeText, node.logitScale);
    const perImage = compareArrays(fromF32(r!.logitsPerImage!), logits.logitsPerImage.data);
    assert.ok(perImage.maxAbs <= 1e-3, `logits per image: max |Δ| ${perImage.maxAbs}`);
  } finally {
    await page.close();
  }
});

/** Loads the model in the page and says how many times the server was asked for it. */
async function loadCounting(page: Page, before: () => Promise<void> = async () => {}): Promise<number> {
  const count = () => server.requests.filter((p) => p === '/temp/model.safetensors').length;
  const start = count();
  await before();
  await page.evaluate(async (bundle) => {
    const clip = await import(bundle);
    await clip.load('/temp/model.safetensors');
  }, BUNDLE);
  return count() - start;
}

test('a downloaded checkpoint is served from the Cache API next time; a damaged cached copy is fetched again', {
  skip,
  timeout: 120_000,
}, async () => {
  const page = await openPage(browser, server);
  try {
    await page.evaluate(() => caches.delete('clip-ts'));
    assert.equal(await loadCounting(page), 1, 'first load downloads');
    assert.equal(await loadCounting(page), 0, 'second load comes from the cache');
    const damage = () =>
      page.evaluate(async () => {
        const cache = await caches.open('clip-ts');
        const url = new URL('/temp/model.safetensors', location.href).href;
        const stored = await cache.match(url);
        const bytes = new Uint8Array(await stored!.arrayBuffer());
        bytes[bytes.length - 1]! ^= 0xff;
        await cache.put(url, new Response(bytes, { headers: stored!.headers }));
      });
    assert.equal(
      await loadCounting(page, damage),
      1,
      'a cached copy whose sha256 no longer matches is downloaded again',
    );
  } finally {
    await page.close();
  }
});

test('load() from bytes needs the tokenizer file; a wrong sha256 is a DownloadError', {
  skip,
  timeout: 120_000,
}, async () => {
  const page = await openPage(browser, server);
  try {
    const errors = await page.evaluate(async (bundle) => {
      const clip = await import(bundle);
      const bytes = await (await fetch('/temp/model.safetensors')).arrayBuffer();
      const message = (p: Promise<unknown>) =>
        p.then(
          () => 'no error',
          (e: Error) => `${e.name}: ${e.message}`,
        );
      return [
        await message(clip.load(bytes)),
        await message(clip.load('/temp/model.safetensors', { sha256: '00'.repeat(32), cache: false })),
        await message(clip.load(bytes, { bpeUrl: '/temp/bpe_simple_vocab_16e6.txt.gz' })),
      ];
    }, BUNDLE);
    assert.match(errors[0]!, /InputError: .*pass the tokenizer file too/);
    assert.match(errors[1]!, /DownloadError: .*sha256 is [0-9a-f]{64}, expected 0{64}/);
    assert.equal(errors[2], 'no error');
  } finally {
    await page.close();
  }
});

test('a page not cross-origin isolated, default options: one thread, same features; the loader fetched as .js', {
  skip,
  timeout: 120_000,
}, async () => {
  const plain = await serveStatic({ '/dist/': join(ROOT, 'dist'), '/temp/': temp }, { isolated: false });
  const page = await openPage(browser, plain);
  try {
    const tokens = TOKENIZER.tokenize(TEXTS);
    const [r] = await runInPage(page, BUNDLE, {}, [
      { url: '/temp/model.safetensors', tokens: { data: i32(tokens.data), shape: tokens.shape } },
    ]);
    const node = new CLIP(randomStateDict(CONFIG, 7));
    const expected = await node.encodeText(tokens);
    await node.release();
    assert.ok(compareArrays(fromF32(r!.textFeatures!), expected.data).maxAbs <= 1e-4);
    assert.equal(await page.evaluate(() => crossOriginIsolated), false);
    assert.ok(plain.requests.includes('/dist/web/ort/ort-wasm-simd-threaded.jsep.js'), plain.requests.join(' '));
  } finally {
    await page.close();
    await plain.close();
  }
});

test('a Hugging Face style folder: vocab.json + merges.txt and config.json beside the model are used', {
  skip,
  timeout: 120_000,
}, async () => {
  const hf = join(temp, 'hf');
  mkdirSync(hf, { recursive: true });
  copyFileSync(join(temp, 'model.safetensors'), join(hf, 'model.safetensors'));
  writeFileSync(join(hf, 'vocab.json'), JSON.stringify(Object.fromEntries(vocabFromMerges(MERGES).encoder)));
  writeFileSync(join(hf, 'merges.txt'), MERGES);
  writeFileSync(join(hf, 'config.json'), JSON.stringify({ text_config: {}, vision_config: { hidden_act: 'gelu' } }));
  const tokens = TOKENIZER.tokenize(TEXTS);
  const page = await openPage(browser, server);
  try {
    const [r] = await runInPage(page, BUNDLE, {}, [
      { url: '/temp/hf/model.safetensors', texts: TEXTS, tokens: { data: i32(tokens.data), shape: tokens.shape } },
    ]);
    TEXTS.forEach((text, i) => assert.deepEqual(r!.tokenized![i]![0], Array.from(TOKENIZER.tokenize(text).data), text));
    const sd = randomStateDict(CONFIG, 7);
    const gelu = new CLIP(sd, {}, inferConfigFromStateDict(sd, { activation: 'gelu' }));
    const expected = await gelu.encodeText(tokens);
    await gelu.release();
    assert.ok(
      compareArrays(fromF32(r!.textFeatures!), expected.data).maxAbs <= 1e-4,
      'features of the GELU model config.json asks for',
    );
  } finally {
    await page.close();
  }
});
