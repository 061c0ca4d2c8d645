// `npm run bench -- --suite browser`: ViT-B/32 (random weights of the real size, the fp16
// torch.save checkpoint every suite uses) in headless Chromium through dist/web/clip.bundle.js on
// onnxruntime-web's WebAssembly backend, next to onnxruntime-node in the same run, same threads.
// Reports throughput, the browser ÷ Node ratio, and where the browser's time goes (download and
// parse, graph build + session creation, steady-state runs).
//   node dist/bench/browser.js [--threads 2] [--image-batch 8] [--text-batch 32] [--rounds 3] [--json]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { CLIP } from '../src/inference/clip.js';
import { readCheckpoint } from '../src/weights/index.js';
import { launchChromium, needsChromium, openPage } from '../test/browser.js';
import { serveStatic } from './static-server.js';
import { f32, i32 } from '../test/web-page.js';
import { median, randomImages, syntheticTokens, writeRandomCheckpoint } from './models.js';
import { positiveInt } from './text-timing.js';

// Browser globals read inside page.evaluate (the project's type library has no DOM).
declare const crossOriginIsolated: boolean;
declare const navigator: { hardwareConcurrency: number };

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MODEL = 'ViT-B/32';
/** A stand-in merges file: the benchmark feeds token ids, but load() builds a tokenizer. */
const MERGES = '#version: 0.2\nt h\n';

const opts = new Command('bench-browser')
  .option('--threads <n>', 'WebAssembly threads in the page and intra-op threads in Node', positiveInt, 2)
  .option('--image-batch <n>', 'images per encode', positiveInt, 8)
  .option('--text-batch <n>', 'captions per encode', positiveInt, 32)
  .option('--rounds <n>', 'timed encodes per task and runtime (after one warm-up)', positiveInt, 3)
  .option('--json', 'one JSON line per measurement')
  .parse()
  .opts<{ threads: number; imageBatch: number; textBatch: number; rounds: number; json?: boolean }>();

interface Timing {
  load_s: number;
  first_image_s: number;
  first_text_s: number;
  image_s: number[];
  text_s: number[];
}

async function timeNode(
  path: string,
  images: ReturnType<typeof randomImages>,
  tokens: ReturnType<typeof syntheticTokens>,
): Promise<Timing> {
  let t = performance.now();
  const lap = () => {
    const now = performance.now();
    const s = (now - t) / 1000;
    t = now;
    return s;
  };
  const model = new CLIP(await readCheckpoint(path), { threads: opts.threads });
  const load_s = lap();
  await model.encodeImage(images);
  const first_image_s = lap();
  await model.encodeText(tokens);
  const first_text_s = lap();
  const image_s: number[] = [];
  const text_s: number[] = [];
  for (let r = 0; r < opts.rounds; r++) {
    await model.encodeImage(images);
    image_s.push(lap());
  }
  for (let r = 0; r < opts.rounds; r++) {
    await model.encodeText(tokens);
    text_s.push(lap());
  }
  await model.release();
  return { load_s, first_image_s, first_text_s, image_s, text_s };
}

async function main(): Promise<void> {
  const skipped = needsChromium();
  if (skipped) {
    console.error(skipped);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'clip-bench-browser-'));
  const server = await serveStatic({ '/dist/': join(ROOT, 'dist'), '/bench/': dir });
  const browser = await launchChromium();
  try {
    console.error('writing a random-weight fp16 ViT-B/32 checkpoint');
    await writeRandomCheckpoint(MODEL, join(dir, 'model.pt'));
    writeFileSync(join(dir, 'merges.txt'), MERGES);
    const images = randomImages(opts.imageBatch, 224);
    const tokens = syntheticTokens(opts.textBatch, 77, 20);

    console.error(`Chromium, WebAssembly, ${opts.threads} threads`);
    const page = await openPage(browser, server);
    // The same phases as timeNode, written out again: this function runs in the page.
    const web = await page.evaluate(
      async ({ bundle, threads, rounds, images, tokens }) => {
        const clip = await import(bundle);
        const fromBase64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0)).buffer;
        const imageInput = { data: new Float32Array(fromBase64(images.data)), shape: images.shape };
        const tokenInput = { data: new Int32Array(fromBase64(tokens.data)), shape: tokens.shape };
        let t = performance.now();
        const lap = () => {
          const now = performance.now();
          const s = (now - t) / 1000;
          t = now;
          return s;
        };
        const { model } = await clip.load('/bench/model.pt', { threads, bpeUrl: '/bench/merges.txt', cache: false });
        const load_s = lap();
        await model.encodeImage(imageInput);
        const first_image_s = lap();
        await model.encodeText(tokenInput);
        const first_text_s = lap();
        const image_s: number[] = [];
        const text_s: number[] = [];
        for (let r = 0; r < rounds; r++) {
          await model.encodeImage(imageInput);
          image_s.push(lap());
        }
        for (let r = 0; r < rounds; r++) {
          await model.encodeText(tokenInput);
          text_s.push(lap());
        }
        return {
          load_s,
          first_image_s,
          first_text_s,
          image_s,
          text_s,
          isolated: crossOriginIsolated,
          cores: navigator.hardwareConcurrency,
        };
      },
      {
        bundle: '/dist/web/clip.bundle.js',
        threads: opts.threads,
        rounds: opts.rounds,
        images: { data: f32(images.data), shape: images.shape },
        tokens: { data: i32(tokens.data), shape: tokens.shape },
      },
    );
    await page.close();

    console.error(`onnxruntime-node, ${opts.threads} threads`);
    const node = await timeNode(join(dir, 'model.pt'), images, tokens);

    const rows = (['image', 'text'] as const).map((task) => {
      const batch = task === 'image' ? opts.imageBatch : opts.textBatch;
      const perSecond = (t: Timing) => batch / median(task === 'image' ? t.image_s : t.text_s);
      return {
        task,
        batch,
        browser_per_s: perSecond(web),
        node_per_s: perSecond(node),
        browser_over_node: perSecond(web) / perSecond(node),
      };
    });
    if (opts.json) {
      for (const r of rows) console.log(JSON.stringify({ model: MODEL, threads: opts.threads, ...r }));
      console.log(JSON.stringify({ model: MODEL, phases: { browser: web, node } }));
      return;
    }
    console.log(`\n${MODEL}, random weights, ${opts.threads} threads (page cross-origin isolated: ${web.isolated});`);
    console.log(`items/s = batch / median of ${opts.rounds} encodes`);
    console.log('task   batch  browser/s  node/s  browser÷node');
    for (const r of rows) {
      const cells = [r.browser_per_s.toFixed(1).padStart(9), r.node_per_s.toFixed(1).padStart(6)];
      console.log(
        `${r.task.padEnd(6)} ${String(r.batch).padStart(5)}  ${cells.join('  ')}  ` +
          `${r.browser_over_node.toFixed(2).padStart(11)}×`,
      );
    }
    console.log('\nWhere the time goes (seconds)        browser    node');
    const phase = (label: string, b: number, n: number) =>
      console.log(`${label.padEnd(36)} ${b.toFixed(2).padStart(7)} ${n.toFixed(2).padStart(7)}`);
    phase('load (fetch/read + parse checkpoint)', web.load_s, node.load_s);
    phase('first image encode (graph + session)', web.first_image_s, node.first_image_s);
    phase('first text encode (graph + session)', web.first_text_s, node.first_text_s);
    phase(`image encode, batch ${opts.imageBatch} (median)`, median(web.image_s), median(node.image_s));
    phase(`text encode, batch ${opts.textBatch} (median)`, median(web.text_s), median(node.text_s));
  } finally {
    await browser.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
