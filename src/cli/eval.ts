// `clip eval`: zero-shot classification, image↔text retrieval and linear probes on a dataset,
// printed as text or one JSON object (--json), optionally as a self-contained HTML report.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { at } from '../checked.js';
import { load, type ImageOutput } from '../index.js';
import { readCaptionPairs, type LabelledDataset } from '../eval/datasets.js';
import type { ImageFeatures } from '../eval/features.js';
import { fitLinearProbe } from '../eval/linear-probe.js';
import { logisticScores } from '../train/index.js';
import { classificationMetrics } from '../metrics.js';
import { encodeNpy } from '../npy.js';
import { retrievalMetrics } from '../eval/retrieval.js';
import {
  dataset,
  datasetOptions,
  emit,
  evalOptions,
  failuresOf,
  featureSummary,
  features,
  headline,
  int,
  pct,
  printClassification,
  settingsOf,
  templateOptions,
  usage,
  zeroShotRun,
  type Options,
} from './eval-common.js';
import { loadOptions } from './options.js';

export function registerEval(program: Command): void {
  const evalCmd = program
    .command('eval')
    .description('evaluate a model: zero-shot classification, retrieval, linear probe');

  templateOptions(
    datasetOptions(
      evalOptions(
        evalCmd
          .command('zeroshot')
          .description('zero-shot top-1/top-5, per-class accuracy and confusion matrix on a labelled dataset'),
      ),
    ),
  )
    .argument(
      '[dataset]',
      'ImageFolder directory (<dir>/<class>/<image>, optional classes.txt) or a filepath,label CSV',
    )
    .option('--split <split>', 'Fashion-MNIST split: t10k (test) or train', 't10k')
    .addHelpText(
      'after',
      '\nExamples:\n  clip eval zeroshot photos/ -m ViT-B/32 --template "a photo of a {}." --json\n' +
        '  clip eval zeroshot --fashion-mnist -m fashion-clip.safetensors --report report.html',
    )
    .action(async (path: string | undefined, o: Options) => {
      if (o.split !== 't10k' && o.split !== 'train') usage(`--split must be t10k or train, got "${o.split as string}"`);
      const data = dataset(path, o, o.split as 'train' | 't10k', '<dataset>');
      const clip = await load(o.model as string, loadOptions(o));
      try {
        const { metrics: m, prompts, features: f, failures } = await zeroShotRun(clip, o, data);
        const settings = settingsOf(o, { task: 'zeroshot', dataset: data.source, templates: prompts });
        await emit(
          o,
          { ...m, features: featureSummary(f), settings },
          failures,
          () => printClassification(m),
          () => ({
            title: `Zero-shot: ${data.source}`,
            settings,
            metrics: headline(m),
            classification: m,
          }),
        );
      } finally {
        await clip.model.release();
      }
    });

  evalOptions(
    evalCmd
      .command('retrieval')
      .description('image→text and text→image recall@1/5/10 and median rank on captioned images'),
  )
    .requiredOption(
      '--pairs <csv>',
      'CSV/TSV of image paths and captions (as clip train --csv); repeat an image for more captions',
    )
    .option('--csv-img-key <name>', 'image path column', 'filepath')
    .option('--csv-caption-key <name>', 'caption column', 'title')
    .addHelpText('after', '\nExample:\n  clip eval retrieval -m ViT-B/32 --pairs pairs.csv --json')
    .action(async (o: Options) => {
      const pairs = readCaptionPairs(o.pairs as string, {
        imageKey: o.csvImgKey as string,
        captionKey: o.csvCaptionKey as string,
      });
      const clip = await load(o.model as string, loadOptions(o));
      try {
        const f = await features(clip, o, 'images', pairs.images, pairs.fingerprint);
        const m = await retrievalMetrics(clip, pairs, f);
        const settings = settingsOf(o, { task: 'retrieval', pairs: pairs.source });
        const rows = (['image_to_text', 'text_to_image'] as const).map((way) => [
          way.replaceAll('_', ' '),
          ...['R@1', 'R@5', 'R@10'].map((k) => pct(m[way][k] ?? null)),
          m[way].median_rank ?? '–',
        ]);
        await emit(
          o,
          { ...m, features: featureSummary(f), settings },
          failuresOf(pairs.images, f),
          () => {
            for (const [way, ...cells] of rows)
              console.log(`${way}: R@1 ${cells[0]}  R@5 ${cells[1]}  R@10 ${cells[2]}  median rank ${cells[3]}`);
            console.log(`(${m.n_images} images, ${m.n_texts} texts)`);
          },
          () => ({
            title: `Retrieval: ${pairs.source}`,
            settings,
            metrics: { images: m.n_images, texts: m.n_texts },
            tables: [{ caption: 'Recall', header: ['direction', 'R@1', 'R@5', 'R@10', 'median rank'], rows }],
          }),
        );
      } finally {
        await clip.model.release();
      }
    });

  datasetOptions(
    evalOptions(
      evalCmd
        .command('linear-probe')
        .description('logistic regression on frozen image features, C chosen on a held-out part of train, then refit'),
    ),
  )
    .option('--train <dataset>', 'training set: ImageFolder directory or filepath,label CSV')
    .option('--test <dataset>', 'test set, with the same classes')
    .addOption(
      new Option(
        '--features <kind>',
        "image features to fit on: the ViT's before the projection to the embedding space (the CLIP paper's " +
          'probe features; a ResNet gives its embedding either way) or the embedding',
      )
        .choices(['pre-projection', 'embedding'])
        .default('pre-projection'),
    )
    .option('--C <x>', 'fix the inverse regularisation strength instead of sweeping it', Number.parseFloat)
    .option('--validation <fraction>', 'share of train held out to choose C', Number.parseFloat, 0.2)
    .option('--max-iter <n>', 'L-BFGS iterations per fit', int, 1000)
    .option(
      '--export-features <dir>',
      'write train/test features and labels as .npy (for bench/reference/linear_probe.py)',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  clip eval linear-probe -m ViT-B/32 --train train/ --test test/ --json\n' +
        '  clip eval linear-probe -m fashion-clip.safetensors --fashion-mnist --report probe.html\n' +
        '  clip eval linear-probe -m ViT-B/32 --train train/ --test test/ --features embedding --C 0.316',
    )
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
        const output = o.features as ImageOutput;
        trainF = await features(clip, o, 'train', train.inputs, train.fingerprint, output);
        testF = await features(clip, o, 'test', test.inputs, test.fingerprint, output);
      } finally {
        await clip.model.release();
      }
      const classes = train.classes.length;
      const labelsOf = (d: LabelledDataset, f: ImageFeatures) => Int32Array.from(f.rows, (r) => at(d.labels, r));
      const [trainY, testY] = [labelsOf(train, trainF), labelsOf(test, testF)];
      const fit = await fitLinearProbe(
        { x: trainF.data, y: trainY, dim: trainF.dim, classes },
        {
          ...(o.C !== undefined ? { C: o.C as number } : {}),
          validationFraction: o.validation as number,
          maxIterations: o.maxIter as number,
          onSweep: (p) =>
            console.error(
              `C ${p.C.toExponential(2)}: validation accuracy ${pct(p.accuracy)} (${p.iterations} iterations)`,
            ),
        },
      );
      const m = classificationMetrics(logisticScores(fit.model, testF.data), testY, train.classes);
      // The probe on its own training rows: how far these features separate the classes linearly at all.
      const trainFit = classificationMetrics(logisticScores(fit.model, trainF.data), trainY, train.classes);
      if (o.exportFeatures) {
        const dir = o.exportFeatures as string;
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'train_x.npy'), encodeNpy(trainF.data, 'float32', [trainY.length, trainF.dim]));
        writeFileSync(join(dir, 'train_y.npy'), encodeNpy(trainY, 'int32', [trainY.length]));
        writeFileSync(join(dir, 'test_x.npy'), encodeNpy(testF.data, 'float32', [testY.length, testF.dim]));
        writeFileSync(join(dir, 'test_y.npy'), encodeNpy(testY, 'int32', [testY.length]));
      }
      const settings = settingsOf(o, {
        task: 'linear-probe',
        train: train.source,
        test: test.source,
        features: o.features,
        validation: o.C === undefined ? o.validation : undefined,
        max_iter: o.maxIter,
      });
      const probe = {
        C: fit.C,
        sweep: fit.sweep,
        train_rows: fit.trainRows,
        train_accuracy: trainFit.top1,
        validation_rows: fit.validationRows,
        iterations: fit.iterations,
        converged: fit.converged,
        fit_seconds: fit.seconds,
      };
      await emit(
        o,
        { ...m, probe, features: { train: featureSummary(trainF), test: featureSummary(testF) }, settings },
        [...failuresOf(train.inputs, trainF), ...failuresOf(test.inputs, testF)],
        () => {
          const chosen = fit.sweep.length
            ? ` (best of ${fit.sweep.length} on ${fit.validationRows} held-out images)`
            : '';
          const fitted = `fitted in ${fit.seconds.toFixed(1)} s, training accuracy ${pct(trainFit.top1)}`;
          console.log(`C = ${fit.C.toExponential(3)}${chosen}; ${fitted}`);
          printClassification(m);
        },
        () => ({
          title: `Linear probe: ${train.source} → ${test.source}`,
          settings,
          metrics: { ...headline(m), C: fit.C.toExponential(3) },
          classification: m,
          tables: fit.sweep.length
            ? [
                {
                  caption: 'C sweep (validation accuracy)',
                  header: ['C', 'accuracy', 'iterations'],
                  rows: [...fit.sweep]
                    .sort((p, q) => p.C - q.C)
                    .map((p) => [p.C.toExponential(3), pct(p.accuracy), p.iterations]),
                },
              ]
            : [],
        }),
      );
    });
}
