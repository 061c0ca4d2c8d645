// `clip merge`: weight-space ensembling of two checkpoints (WiSE-FT), optionally sweeping the
// mixing weight and reporting zero-shot accuracy at each.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { load, readCheckpoint, toCanonical, writeSafetensors } from '../index.js';
import { interpolateStateDicts } from '../eval/merge.js';
import {
  dataset,
  datasetOptions,
  emit,
  type ImageFailure,
  outputOptions,
  pct,
  settingsOf,
  templateOptions,
  usage,
  zeroShotRun,
  type Options,
} from './eval-common.js';
import { loadOptions } from './options.js';

/** "0,0.25,0.5" → [0, 0.25, 0.5]; a bare --sweep gives 0, 0.1, …, 1. */
function alphas(value: string | true): number[] {
  if (value === true) return Array.from({ length: 11 }, (_, i) => i / 10);
  const list = value.split(',').map(Number);
  if (list.some((a) => !(a >= 0 && a <= 1)))
    usage(`--sweep takes alphas within [0, 1] separated by commas, got "${value}"`);
  return list;
}

export function registerMerge(program: Command): void {
  templateOptions(
    datasetOptions(
      outputOptions(
        program
          .command('merge')
          .description('weight-space ensemble of two checkpoints: (1 - alpha)·a + alpha·b (WiSE-FT)'),
      ),
    ),
  )
    .argument('<a>', 'first checkpoint (alpha = 0), e.g. the zero-shot model')
    .argument('<b>', 'second checkpoint (alpha = 1), e.g. its fine-tune')
    .option('-o, --output <file.safetensors>', 'write the merged model')
    .option('--alpha <x>', 'weight of b (default 0.5; with --sweep, the best alpha)', Number.parseFloat)
    .option(
      '--sweep [alphas]',
      'zero-shot top-1 of the merge at each alpha (default 0,0.1,…,1) on --eval or --fashion-mnist',
    )
    .option('--eval <dataset>', 'labelled dataset for --sweep: ImageFolder directory or filepath,label CSV')
    .addOption(new Option('--device <device>', 'where to run the sweep').choices(['cpu', 'cuda']).default('cpu'))
    .option('--threads <n>', 'intra-op threads', (v) => Number.parseInt(v, 10))
    .option('--bpe <path>', 'tokenizer merges file for the sweep')
    .addHelpText(
      'after',
      '\nExamples:\n  clip merge zeroshot.safetensors tuned.safetensors --alpha 0.5 -o wise.safetensors\n' +
        '  clip merge zeroshot.safetensors tuned.safetensors --sweep --fashion-mnist --json -o best.safetensors',
    )
    .action(async (a: string, b: string, o: Options) => {
      if (!o.sweep && !o.output) usage('give -o <file.safetensors> (or --sweep to measure alphas)');
      if (!o.sweep && (o.eval || o.fashionMnist)) usage('--eval and --fashion-mnist are for --sweep');
      const sa = toCanonical(await readCheckpoint(a));
      const sb = toCanonical(await readCheckpoint(b));
      let alpha = (o.alpha as number | undefined) ?? 0.5;
      if (o.sweep) {
        const data = dataset(o.eval as string | undefined, o, 't10k', '--eval');
        const dir = mkdtempSync(join(tmpdir(), 'clip-merge-'));
        const sweep: { alpha: number; top1: number; top5: number; mean_per_class: number }[] = [];
        let prompts: string[] = [];
        let failures: ImageFailure[] = []; // the same images at every alpha
        try {
          for (const x of alphas(o.sweep as string | true)) {
            const path = join(dir, `alpha-${x}.safetensors`);
            writeSafetensors(path, interpolateStateDicts(sa, sb, x, [a, b]), { format: 'pt' });
            const clip = await load(path, loadOptions(o));
            try {
              // Each merge is a new model: nothing to reuse from the feature cache.
              const run = await zeroShotRun(clip, { ...o, cache: false }, data, `alpha ${x}`);
              ({ prompts, failures } = run);
              const m = run.metrics;
              sweep.push({ alpha: x, top1: m.top1, top5: m.top5, mean_per_class: m.mean_per_class });
            } finally {
              await clip.model.release();
              rmSync(path, { force: true });
            }
          }
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
        const best = sweep.reduce((p, q) => (q.top1 > p.top1 ? q : p));
        if (o.alpha === undefined) alpha = best.alpha;
        const settings = settingsOf(
          { ...o, model: undefined },
          { task: 'merge-sweep', a, b, dataset: data.source, templates: prompts },
        );
        const rows = sweep.map((s) => [s.alpha, pct(s.top1), pct(s.top5), pct(s.mean_per_class)]);
        await emit(
          o,
          { sweep, best_alpha: best.alpha, settings },
          failures,
          () => {
            for (const s of sweep) {
              const scores = `top-1 ${pct(s.top1)}  top-5 ${pct(s.top5)}  mean per class ${pct(s.mean_per_class)}`;
              console.log(`alpha ${s.alpha.toFixed(2)}: ${scores}`);
            }
            console.log(`best alpha ${best.alpha} (top-1 ${pct(best.top1)})`);
          },
          () => ({
            title: `WiSE-FT sweep: ${a} → ${b}`,
            settings,
            metrics: { 'best alpha': String(best.alpha), 'best top-1': best.top1 },
            tables: [
              { caption: 'Zero-shot accuracy by alpha', header: ['alpha', 'top-1', 'top-5', 'mean per class'], rows },
            ],
          }),
        );
      }
      if (o.output) {
        writeSafetensors(o.output as string, interpolateStateDicts(sa, sb, alpha, [a, b]), {
          format: 'pt',
          producer: `clip merge alpha=${alpha}`,
        });
        console.error(`wrote ${o.output as string} (alpha ${alpha})`);
      }
    });
}
