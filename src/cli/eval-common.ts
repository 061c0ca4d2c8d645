// What the `clip eval` subcommands and `clip merge --sweep` share: dataset and prompt options,
// features with a progress bar, and the output in text, JSON or an HTML report.
import { join } from 'node:path';
import type { Command } from 'commander';
import { cacheDir, type ImageOutput, type LoadedClip } from '../index.js';
import { firstItems, readFashionMnist, readLabelledDataset, type LabelledDataset } from '../eval/datasets.js';
import { imageFeatures, modelFingerprint, type ImageFeatures } from '../eval/features.js';
import { FASHION_MNIST_DIR } from '../eval/fashion-mnist.js';
import { classMetrics, type ClassificationMetrics } from '../metrics.js';
import { progressBar } from '../eval/progress.js';
import { writeReport, type ReportInput } from '../eval/report.js';
import { zeroShotMetrics } from '../eval/zeroshot.js';
import {
  CHINESE_SINGLE_TEMPLATE,
  CHINESE_TEMPLATES,
  DEFAULT_TEMPLATES,
  IMAGENET_TEMPLATES,
  readTemplateFile,
  SINGLE_TEMPLATE,
} from '../zeroshot/templates.js';
import { modelOptions } from './options.js';

export type Options = Record<string, unknown>;

/** A usage mistake: one line, exit status 2. */
export function usage(message: string): never {
  console.error(`clip: ${message}`);
  process.exit(2);
}

export const int = (v: string) => Number.parseInt(v, 10);

/** Options every evaluation shares: output forms, batch size, the feature cache. */
export function outputOptions(cmd: Command): Command {
  return cmd
    .option('--json', "print one JSON object with every metric and the run's settings")
    .option('--report <file.html>', 'also write a self-contained HTML report')
    .option('-b, --batch-size <n>', 'images per model run', int, 64)
    .option('--no-cache', 'recompute image features even when <cache-dir>/features holds them');
}

/** An evaluation of one model. */
export function evalOptions(cmd: Command): Command {
  return outputOptions(modelOptions(cmd));
}

/** Options of commands that read labelled datasets: Fashion-MNIST by flag, a subset. */
export function datasetOptions(cmd: Command): Command {
  return cmd
    .option(
      '--fashion-mnist [dir]',
      `Fashion-MNIST's IDX files (Debian's dataset-fashion-mnist, default ${FASHION_MNIST_DIR})`,
    )
    .option('--limit <n>', 'use only the first n images of each dataset', int);
}

const fashionDir = (o: Options) => (o.fashionMnist === true ? FASHION_MNIST_DIR : (o.fashionMnist as string));

/** A dataset path, or the Fashion-MNIST split when --fashion-mnist is given. */
export function dataset(path: string | undefined, o: Options, split: 'train' | 't10k', flag: string): LabelledDataset {
  if (path && o.fashionMnist) usage(`give ${flag} or --fashion-mnist, not both`);
  if (!path && !o.fashionMnist)
    usage(`give ${flag} (an ImageFolder directory or a filepath,label CSV) or --fashion-mnist`);
  return firstItems(
    path ? readLabelledDataset(path) : readFashionMnist(split, fashionDir(o)),
    o.limit as number | undefined,
  );
}

/** Where the zero-shot prompts come from. */
export function templateOptions(cmd: Command): Command {
  return (
    cmd
      // Repeatable rather than variadic, so that `--template "{}" photos/` leaves photos/ the dataset.
      .option(
        '--template <template>',
        'a prompt template inline (repeat for an ensemble); "{}" uses the class names verbatim',
        (value: string, previous: string[] = []) => [...previous, value],
      )
      .option('--templates-file <file>', 'prompt templates, one per line with {} for the class name')
      .option(
        '--template-set <name>',
        'built-in prompts: default (7-prompt ensemble), single ("a photo of a {}."), imagenet80 (the paper\'s 80)',
        'default',
      )
  );
}

/** The prompt templates: inline, from a file, or a built-in set (Chinese prompts for Chinese-CLIP). */
export function templates(o: Options, clip: LoadedClip): string[] {
  if (o.template) return o.template as string[];
  if (o.templatesFile) return readTemplateFile(o.templatesFile as string);
  const chinese = clip.model.config.text.kind === 'bert';
  if (!['default', 'single', 'imagenet80'].includes(o.templateSet as string))
    usage(`--template-set must be default, single or imagenet80, got "${o.templateSet as string}"`);
  switch (o.templateSet) {
    case 'single':
      return chinese ? CHINESE_SINGLE_TEMPLATE : SINGLE_TEMPLATE;
    case 'imagenet80':
      return IMAGENET_TEMPLATES;
    default:
      return chinese ? CHINESE_TEMPLATES : DEFAULT_TEMPLATES;
  }
}

/** Features with a progress bar on a terminal, a line on stderr about speed, and failures reported. */
export async function features(
  clip: LoadedClip,
  o: Options,
  name: string,
  inputs: LabelledDataset['inputs'],
  fingerprint: () => string,
  output: ImageOutput = 'embedding',
): Promise<ImageFeatures> {
  const bar = progressBar(name);
  const result = await imageFeatures(clip, inputs, {
    batchSize: o.batchSize as number,
    output,
    ...(o.cache
      ? {
          model: await modelFingerprint(o.model as string),
          fingerprint: fingerprint(),
          cacheDir: join(cacheDir(o.cacheDir as string | undefined), 'features'),
        }
      : {}),
    onProgress: bar.onProgress,
  });
  bar.stop();
  for (const f of result.failures) console.error(`skipped: ${f.message}`);
  const skipped = result.failures.length ? `, ${result.failures.length} skipped` : '';
  const speed = `${result.seconds.toFixed(1)} s (${result.imagesPerSecond.toFixed(1)} images/s)${skipped}`;
  console.error(
    result.cached
      ? `${name}: ${result.rows.length} image features from the cache`
      : `${name}: ${result.rows.length} images in ${speed}`,
  );
  return result;
}

/** Zero-shot metrics on `data` with the prompts the options choose (`clip eval zeroshot`, `clip merge --sweep`). */
export async function zeroShotRun(clip: LoadedClip, o: Options, data: LabelledDataset, name = 'images') {
  const prompts = templates(o, clip);
  const f = await features(clip, o, name, data.inputs, data.fingerprint);
  const metrics = await zeroShotMetrics(clip, data, prompts, f);
  return { metrics, prompts, features: f, failures: failuresOf(data.inputs, f) };
}

export function featureSummary(f: ImageFeatures) {
  return { images_per_second: f.imagesPerSecond, seconds: f.seconds, cached: f.cached, skipped: f.failures.length };
}

/** Settings every evaluation reports. */
export function settingsOf(o: Options, extra: Record<string, unknown>): Record<string, unknown> {
  return { model: o.model, device: o.device, batch_size: o.batchSize, limit: o.limit, ...extra };
}

export const pct = (x: number | null) => (x === null ? '–' : `${(100 * x).toFixed(2)}%`);

export function printClassification(m: ClassificationMetrics): void {
  console.log(`top-1 ${pct(m.top1)}  top-5 ${pct(m.top5)}  mean per class ${pct(m.mean_per_class)}  (${m.n} images)`);
  for (const name of m.classes)
    console.log(`  ${pct(classMetrics(m, name).accuracy).padStart(7)}  ${name} (${classMetrics(m, name).n})`);
}

/** An image an evaluation could not read: its path (or its position, for raw pixels) and why. */
export interface ImageFailure {
  input: string;
  error: string;
}

/** The images of `inputs` that `f` could not read. */
export function failuresOf(inputs: LabelledDataset['inputs'], f: ImageFeatures): ImageFailure[] {
  return f.failures.map(({ index, message }) => {
    const input = inputs[index];
    return { input: typeof input === 'string' ? input : `#${index}`, error: message };
  });
}

/**
 * --json or text on stdout, and the report when asked. Unreadable images are left out of the
 * metrics, counted and listed in the JSON (`failed`, `failures`), and make the exit status 1, as
 * in `clip embed`: the numbers are printed, but the run did not cover every image.
 */
export async function emit(
  o: Options,
  result: Record<string, unknown>,
  failures: readonly ImageFailure[],
  print: () => void,
  report: () => ReportInput,
): Promise<void> {
  if (o.json) console.log(JSON.stringify({ ...result, failed: failures.length, failures }));
  else print();
  if (o.report) {
    await writeReport(o.report as string, report());
    console.error(`report: ${o.report as string}`);
  }
  if (failures.length) {
    console.error(`clip: ${failures.length} image(s) could not be read and were left out of the metrics`);
    process.exitCode = 1;
  }
}

export function headline(m: ClassificationMetrics): Record<string, number> {
  return { 'top-1': m.top1, 'top-5': m.top5, 'mean per class': m.mean_per_class, n: m.n };
}
