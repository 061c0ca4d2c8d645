// What each runtime switch does to our inference speed (issue: "each switchable and measured"):
// ONNX Runtime's graph optimisation level and thread count, one at a time from level 'all' with
// 2 threads, on a random real-size model. The variants alternate round by round so drift hits
// them alike, which is why every one of them has spinning off: a spinning session's idle threads
// keep a core busy after each run and would slow whichever variant runs next. Spinning on is
// then measured alone, against the default alone, at the end.
//   node dist/bench/runtime-switches.js [--model ViT-B/32] [--rounds 5]
import { parseArgs } from 'node:util';
import { CLIP } from '../src/inference/clip.js';
import { OFFICIAL_CONFIGS } from '../src/models/presets.js';
import { randomStateDict } from '../src/models/random.js';
import type { RuntimeOptions } from '../src/runtime/session.js';
import { median, randomImages, syntheticTokens } from './models.js';

const { values } = parseArgs({
  options: { model: { type: 'string', default: 'ViT-B/32' }, rounds: { type: 'string', default: '5' } },
});
const name = values.model!;
const cfg = OFFICIAL_CONFIGS[name];
if (!cfg) throw new Error(`unknown model ${name}; one of ${Object.keys(OFFICIAL_CONFIGS).join(', ')}`);

const VARIANTS: [string, RuntimeOptions][] = [
  ['default (all, no spinning, 2 threads)', { optimization: 'all', spinning: false, threads: 2 }],
  ['optimization extended', { optimization: 'extended', spinning: false, threads: 2 }],
  ['optimization basic', { optimization: 'basic', spinning: false, threads: 2 }],
  ['optimization disabled', { optimization: 'disabled', spinning: false, threads: 2 }],
  ['1 thread', { optimization: 'all', spinning: false, threads: 1 }],
];

const sd = randomStateDict(cfg, 1);
const R = cfg.vision.imageResolution;
// Captions end at positions 2..40, as real ones mostly do.
const [image1, image32, text32] = [
  randomImages(1, R),
  randomImages(32, R),
  syntheticTokens(32, cfg.text.contextLength, 40),
];
const TASKS: [string, number, (m: CLIP) => Promise<unknown>][] = [
  ['image', 1, (m) => m.encodeImage(image1)],
  ['image', 32, (m) => m.encodeImage(image32)],
  ['text', 32, (m) => m.encodeText(text32)],
];

/** Alternating rounds over `variants`; prints items/s (batch / median seconds) per task and variant. */
async function measure(variants: [string, RuntimeOptions][]): Promise<void> {
  const models = variants.map(([, runtime]) => new CLIP(sd, runtime, cfg));
  for (const [task, batch, run] of TASKS) {
    for (const m of models) await run(m); // compile and warm up
    const seconds: number[][] = models.map(() => []);
    for (let round = 0; round < Number(values.rounds); round++) {
      for (let k = 0; k < models.length; k++) {
        const i = (k + round) % models.length; // rotate who goes first
        const start = performance.now();
        await run(models[i]!);
        seconds[i]!.push((performance.now() - start) / 1000);
      }
    }
    seconds.forEach((s, i) => {
      console.log(
        JSON.stringify({ model: name, task, batch, variant: variants[i]![0], per_s: +(batch / median(s)).toFixed(2) }),
      );
    });
  }
  for (const m of models) await m.release();
}

await measure(VARIANTS);
await measure([VARIANTS[0]!]);
await measure([['spinning on', { optimization: 'all', spinning: true, threads: 2 }]]);
