// `clip eval`: zero-shot classification, image↔text retrieval and linear probes on a dataset,
// printed as text or one JSON object (--json), optionally as a self-contained HTML report.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { cacheDir, load, type LoadedClip } from '../index.js';
import {
  firstItems, readCaptionPairs, readFashionMnist, readLabelledDataset, type LabelledDataset,
} from '../eval/datasets.js';
import { imageFeatures, modelFingerprint, type ImageFeatures } from '../eval/features.js';
import { FASHION_MNIST_DIR } from '../eval/fashion-mnist.js';
import { fitLinearProbe } from '../eval/linear-probe.js';
import { logisticScores } from '../eval/logistic.js';
import { classificationMetrics, type ClassificationMetrics } from '../eval/metrics.js';
import { writeNpy } from '../eval/npy.js';
import { progressBar } from '../eval/progress.js';
import { writeReport, type ReportInput } from '../eval/report.js';
import { retrievalMetrics } from '../eval/retrieval.js';
import { zeroShotMetrics } from '../eval/zeroshot.js';
import {
  CHINESE_SINGLE_TEMPLATE, CHINESE_TEMPLATES, DEFAULT_TEMPLATES, IMAGENET_TEMPLATES, SINGLE_TEMPLATE,
} from '../zeroshot/templates.js';
import { loadOptions, modelOptions } from './options.js';

type Options = Record<string, unknown>;

/** A usage mistake: one line, exit status 2. */
function usage(message: string): never {
  console.error(`clip: ${message}`);
  process.exit(2);
}

const int = (v: string) => Number.parseInt(v, 10);

/** Options every evaluation shares: output forms, batch size, the feature cache. */
function evalOptions(cmd: Command): Command {
  return modelOptions(cmd)
    .option('--json', 'print one JSON object with every metric and the run\'s settings')
    .option('--report <file.html>', 'also write a self-contained HTML report')
    .option('-b, --batch-size <n>', 'images per model run', int, 64)
    .option('--limit <n>', 'use only the first n images of each dataset', int)
    .option('--no-cache', 'recompute image features even when <cache-dir>/features holds them');
}

/** Options naming a labelled dataset by flag rather than path. */
function fashionOption(cmd: Command): Command {
  return cmd.option('--fashion-mnist [dir]', `Fashion-MNIST's IDX files (Debian's dataset-fashion-mnist, default ${FASHION_MNIST_DIR})`);
}

const fashionDir = (o: Options) => (o.fashionMnist === true ? FASHION_MNIST_DIR : o.fashionMnist as string);

/** A dataset path, or the Fashion-MNIST split when --fashion-mnist is given. */
function dataset(path: string | undefined, o: Options, split: 'train' | 't10k', flag: string): LabelledDataset {
  if (path && o.fashionMnist) usage(`give ${flag} or --fashion-mnist, not both`);
  if (!path && !o.fashionMnist) usage(`give ${flag} (an ImageFolder directory or a filepath,label CSV) or --fashion-mnist`);
  return firstItems(path ? readLabelledDataset(path) : readFashionMnist(split, fashionDir(o)), o.limit as number | undefined);
}

/** The prompt templates: inline, from a file, or a built-in set (Chinese prompts for Chinese-CLIP). */
function templates(o: Options, clip: LoadedClip): string[] {
  if (o.template) return o.template as string[];
  if (o.templatesFile) {
    const lines = readFileSync(o.templatesFile as string, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
    if (!lines.length) usage(`${o.templatesFile as string}: no templates (one per line, {} for the class name)`);
    return lines;
  }
  const chinese = clip.model.config.text.kind === 'bert';
  switch (o.templateSet) {
    case 'single': return chinese ? CHINESE_SINGLE_TEMPLATE : SINGLE_TEMPLATE;
    case 'imagenet80': return IMAGENET_TEMPLATES;
    default: return chinese ? CHINESE_TEMPLATES : DEFAULT_TEMPLATES;
  }
}

/** Features with a progress bar on a terminal, a line on stderr about speed, and failures reported. */
async function features(clip: LoadedClip, o: Options, name: string, inputs: LabelledDataset['inputs'], fingerprint: () => string): Promise<ImageFeatures> {
  const bar = progressBar(name);
  const result = await imageFeatures(clip, inputs, {
    batchSize: o.batchSize as number,
    ...(o.cache ? { model: await modelFingerprint(o.model as string), fingerprint: fingerprint(), cacheDir: join(cacheDir(o.cacheDir as string | undefined), 'features') } : {}),
    onProgress: bar.onProgress,
  });
  bar.stop();
  for (const f of result.failures) console.error(`skipped: ${f.message}`);
  console.error(result.cached
    ? `${name}: ${result.rows.length} image features from the cache`
    : `${name}: ${result.rows.length} images in ${result.seconds.toFixed(1)} s (${result.imagesPerSecond.toFixed(1)} images/s)${result.failures.length ? `, ${result.failures.length} skipped` : ''}`);
  return result;
}

function featureSummary(f: ImageFeatures) {
  return { images_per_second: f.imagesPerSecond, seconds: f.seconds, cached: f.cached, skipped: f.failures.length };
}

/** Settings every evaluation reports. */
function settingsOf(o: Options, extra: Record<string, unknown>): Record<string, unknown> {
  return { model: o.model, device: o.device, batch_size: o.batchSize, limit: o.limit, ...extra };
}

const pct = (x: number | null) => (x === null ? '–' : `${(100 * x).toFixed(2)}%`);

function printClassification(m: ClassificationMetrics): void {
  console.log(`top-1 ${pct(m.top1)}  top-5 ${pct(m.top5)}  mean per class ${pct(m.mean_per_class)}  (${m.n} images)`);
  for (const name of m.classes) console.log(`  ${pct(m.per_class[name]!.accuracy).padStart(7)}  ${name} (${m.per_class[name]!.n})`);
}

/** --json or text on stdout, and the report when asked. */
async function emit(o: Options, result: Record<string, unknown>, print: () => void, report: () => ReportInput): Promise<void> {
  if (o.json) console.log(JSON.stringify(result));
  else print();
  if (o.report) { await writeReport(o.report as string, report()); console.error(`report: ${o.report as string}`); }
}

function headline(m: ClassificationMetrics): Record<string, number> {
  return { 'top-1': m.top1, 'top-5': m.top5, 'mean per class': m.mean_per_class, n: m.n };
}

export function registerEval(program: Command): void {
  const evalCmd = program.command('eval').description('evaluate a model: zero-shot classification, retrieval, linear probe');

  fashionOption(evalOptions(evalCmd.command('zeroshot')
    .description('zero-shot top-1/top-5, per-class accuracy and confusion matrix on a labelled dataset')))
    .argument('[dataset]', 'ImageFolder directory (<dir>/<class>/<image>, optional classes.txt) or a filepath,label CSV')
    .option('--template <template...>', 'prompt template(s) inline; "{}" uses the class names verbatim')
    .option('--templates-file <file>', 'prompt templates, one per line with {} for the class name')
    .option('--template-set <name>', 'built-in prompts: default (7-prompt ensemble), single ("a photo of a {}."), imagenet80 (the paper\'s 80)', 'default')
    .option('--split <split>', 'Fashion-MNIST split: t10k (test) or train', 't10k')
    .addHelpText('after', '\nExamples:\n  clip eval zeroshot photos/ -m ViT-B/32 --template "a photo of a {}." --json\n'
      + '  clip eval zeroshot --fashion-mnist -m fashion-clip.safetensors --report report.html')
    .action(async (path: string | undefined, o: Options) => {
      if (o.split !== 't10k' && o.split !== 'train') usage(`--split must be t10k or train, got "${o.split as string}"`);
      const data = dataset(path, o, o.split as 'train' | 't10k', '<dataset>');
      const clip = await load(o.model as string, loadOptions(o));
      try {
        const prompts = templates(o, clip);
        const f = await features(clip, o, 'images', data.inputs, data.fingerprint);
        const m = await zeroShotMetrics(clip, data, prompts, f);
        const settings = settingsOf(o, { task: 'zeroshot', dataset: data.source, templates: prompts });
        await emit(o, { ...m, features: featureSummary(f), settings }, () => printClassification(m), () => ({
          title: `Zero-shot: ${data.source}`, settings, metrics: headline(m), classification: m,
        }));
      } finally {
        await clip.model.release();
      }
    });

  evalOptions(evalCmd.command('retrieval').description('image→text and text→image recall@1/5/10 and median rank on captioned images'))
    .requiredOption('--pairs <csv>', 'CSV/TSV of image paths and captions (as clip train --csv); repeat an image for more captions')
    .option('--csv-img-key <name>', 'image path column', 'filepath')
    .option('--csv-caption-key <name>', 'caption column', 'title')
    .addHelpText('after', '\nExample:\n  clip eval retrieval -m ViT-B/32 --pairs pairs.csv --json')
    .action(async (o: Options) => {
      const pairs = readCaptionPairs(o.pairs as string, { imageKey: o.csvImgKey as string, captionKey: o.csvCaptionKey as string });
      const clip = await load(o.model as string, loadOptions(o));
      try {
        const f = await features(clip, o, 'images', pairs.images, pairs.fingerprint);
        const m = await retrievalMetrics(clip, pairs, f);
        const settings = settingsOf(o, { task: 'retrieval', pairs: pairs.source });
        const rows = (['image_to_text', 'text_to_image'] as const).map((way) => [way.replaceAll('_', ' '), ...['R@1', 'R@5', 'R@10'].map((k) => pct(m[way][k]!)), m[way].median_rank!]);
        await emit(o, { ...m, features: featureSummary(f), settings }, () => {
          for (const [way, ...cells] of rows) console.log(`${way}: R@1 ${cells[0]}  R@5 ${cells[1]}  R@10 ${cells[2]}  median rank ${cells[3]}`);
          console.log(`(${m.n_images} images, ${m.n_texts} texts)`);
        }, () => ({
          title: `Retrieval: ${pairs.source}`, settings, metrics: { images: m.n_images, texts: m.n_texts },
          tables: [{ caption: 'Recall', header: ['direction', 'R@1', 'R@5', 'R@10', 'median rank'], rows }],
        }));
      } finally {
        await clip.model.release();
      }
    });

  fashionOption(evalOptions(evalCmd.command('linear-probe')
    .description('logistic regression on frozen image features, C chosen on a held-out part of train, then refit')))
    .option('--train <dataset>', 'training set: ImageFolder directory or filepath,label CSV')
    .option('--test <dataset>', 'test set, with the same classes')
    .option('--C <x>', 'fix the inverse regularisation strength instead of sweeping it', Number.parseFloat)
    .option('--validation <fraction>', 'share of train held out to choose C', Number.parseFloat, 0.2)
    .option('--max-iter <n>', 'L-BFGS iterations per fit', int, 1000)
    .option('--export-features <dir>', 'write train/test features and labels as .npy (for bench/reference/linear_probe.py)')
    .addHelpText('after', '\nExamples:\n  clip eval linear-probe -m ViT-B/32 --train train/ --test test/ --json\n'
      + '  clip eval linear-probe -m fashion-clip.safetensors --fashion-mnist --report probe.html')
    .action(async (o: Options) => {
      const train = dataset(o.train as string | undefined, o, 'train', '--train');
      const test = dataset(o.test as string | undefined, o, 't10k', '--test');
      if (train.classes.join('\n') !== test.classes.join('\n')) {
        usage(`--train has classes [${train.classes.join(', ')}] but --test has [${test.classes.join(', ')}]`);
      }
      const clip = await load(o.model as string, loadOptions(o));
      let trainF: ImageFeatures;
      let testF: ImageFeatures;
      try {
        trainF = await features(clip, o, 'train', train.inputs, train.fingerprint);
        testF = await features(clip, o, 'test', test.inputs, test.fingerprint);
      } finally {
        await clip.model.release();
      }
      const classes = train.classes.length;
      const labelsOf = (d: LabelledDataset, f: ImageFeatures) => Int32Array.from(f.rows, (r) => d.labels[r]!);
      const [trainY, testY] = [labelsOf(train, trainF), labelsOf(test, testF)];
      const fit = fitLinearProbe({ x: trainF.data, y: trainY, dim: trainF.dim, classes }, {
        ...(o.C !== undefined ? { C: o.C as number } : {}),
        validationFraction: o.validation as number, maxIterations: o.maxIter as number,
        onSweep: (p) => { if (!o.json) console.error(`C ${p.C.toExponential(2)}: validation accuracy ${pct(p.accuracy)} (${p.iterations} iterations)`); },
      });
      const m = classificationMetrics(logisticScores(fit.model, testF.data), testY, train.classes);
      if (o.exportFeatures) {
        const dir = o.exportFeatures as string;
        mkdirSync(dir, { recursive: true });
        writeNpy(join(dir, 'train_x.npy'), trainF.data, [trainY.length, trainF.dim]);
        writeNpy(join(dir, 'train_y.npy'), trainY, [trainY.length]);
        writeNpy(join(dir, 'test_x.npy'), testF.data, [testY.length, testF.dim]);
        writeNpy(join(dir, 'test_y.npy'), testY, [testY.length]);
      }
      const settings = settingsOf(o, {
        task: 'linear-probe', train: train.source, test: test.source, validation: o.C === undefined ? o.validation : undefined, max_iter: o.maxIter,
      });
      const probe = { C: fit.C, sweep: fit.sweep, train_rows: fit.trainRows, validation_rows: fit.validationRows, iterations: fit.iterations, converged: fit.converged, fit_seconds: fit.seconds };
      await emit(o, { ...m, probe, features: { train: featureSummary(trainF), test: featureSummary(testF) }, settings }, () => {
        console.log(`C = ${fit.C.toExponential(3)}${fit.sweep.length ? ` (best of ${fit.sweep.length} on ${fit.validationRows} held-out images)` : ''}; fitted in ${fit.seconds.toFixed(1)} s`);
        printClassification(m);
      }, () => ({
        title: `Linear probe: ${train.source} → ${test.source}`, settings, metrics: { ...headline(m), C: fit.C.toExponential(3) }, classification: m,
        tables: fit.sweep.length ? [{ caption: 'C sweep (validation accuracy)', header: ['C', 'accuracy', 'iterations'], rows: fit.sweep.map((p) => [p.C.toExponential(3), pct(p.accuracy), p.iterations]) }] : [],
      }));
    });
}
