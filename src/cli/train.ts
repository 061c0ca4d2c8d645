// `clip train`: contrastive training / fine-tuning on image-caption pairs.
// The model code (ONNX Runtime, sharp) is imported when the command runs, so that usage errors and
// --help answer without loading it.
import { existsSync, realpathSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import type { EvalResult } from '../train/index.js';
import { trainStatePath } from '../train/checkpoint.js';
import { checkDevice } from './device.js';
import {
  loadOptions,
  nonNegativeFloat,
  nonNegativeInt,
  positiveFloat,
  positiveInt,
  runtimeOptions,
  UsageError,
} from './options.js';
import { IMAGENET_TEMPLATES, readTemplateFile } from '../zeroshot/templates.js';

/** One line for a terminal: "zero-shot top-1 42.0% (50 images)  image→text R@1 …". */
function describeEval({ zeroShot, retrieval }: EvalResult): string {
  const parts: string[] = [];
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  if (zeroShot)
    parts.push(
      `zero-shot top-1 ${pct(zeroShot.top1)} (${zeroShot.images} ` +
        `images${zeroShot.skipped ? `, ${zeroShot.skipped} skipped` : ''})`,
    );
  if (retrieval) {
    for (const [way, recall] of [
      ['image→text', retrieval.imageToText],
      ['text→image', retrieval.textToImage],
    ] as const) {
      parts.push(
        `${way} ${Object.entries(recall)
          .map(([k, r]) => `R@${k} ${pct(r)}`)
          .join(' ')}`,
      );
    }
    parts.push(`(${retrieval.pairs} pairs${retrieval.skipped ? `, ${retrieval.skipped} skipped` : ''})`);
  }
  return parts.join('  ');
}

/** The flags behind each setting a resumed run must keep (ResumeMismatchError.changed). */
const SETTING_FLAGS: Record<string, string> = {
  'training data': '--csv/--folder/--shards data',
  batchSize: '--batch-size',
  seed: '--seed',
  lr: '--lr',
  warmup: '--warmup',
  optimizer: '--wd',
  clipGradNorm: '--clip-grad-norm',
  freeze: '--lock-image/--lock-text',
};

const samePath = (a: string, b: string) => existsSync(a) && existsSync(b) && realpathSync(a) === realpathSync(b);

/** Before any work: the output can be written, is not the model it starts from, and overwrites nothing unasked. */
function checkOutput(o: Record<string, unknown>): void {
  const output = o.output as string;
  const fail = (why: string): never => {
    throw new UsageError(`-o/--output ${output}${why}`);
  };
  if (!output.endsWith('.safetensors')) fail(': expected a file name ending in .safetensors');
  const folder = dirname(resolve(output));
  if (!existsSync(folder) || !statSync(folder).isDirectory()) fail(`: folder ${folder} does not exist`);
  if (samePath(output, o.model as string) || resolve(output) === resolve(o.model as string)) {
    fail(' is the model it starts from (-m); write the run to another file');
  }
  if (o.resume) {
    if (!existsSync(trainStatePath(output))) {
      throw new UsageError(
        `--resume: ${trainStatePath(output)} does not exist, so there is no run to continue in ${output}`,
      );
    }
    if (o.overwrite) throw new UsageError('--resume continues the run in --output, --overwrite starts over: give one');
  } else if (existsSync(output) && !o.overwrite) {
    fail(' exists: pass --resume to continue that run, or --overwrite to start over');
  }
}

export function registerTrain(program: Command): void {
  const cmd = program
    .command('train')
    .description('contrastive training / fine-tuning from a checkpoint on image-caption pairs')
    .requiredOption(
      '-m, --model <name|path|scratch:arch>',
      'start from a checkpoint file (any format load() reads), a model name (downloaded), or scratch:<architecture> ' +
        '(e.g. scratch:ViT-B/32, random weights)',
    )
    .option(
      '--model-config <file>',
      "the starting model's config file when none is beside the checkpoint " +
        '(e.g. open_clip_config.json for an open_clip training checkpoint epoch_N.pt)',
    )
    .requiredOption('-o, --output <file.safetensors>', 'where checkpoints are written (optimiser state goes beside it)')
    .option('--overwrite', 'replace an existing --output (and its training state) with a new run')
    .option('--csv <file>', 'CSV/TSV of image paths and captions (open_clip columns)')
    .option('--csv-img-key <name>', 'image path column', 'filepath')
    .option('--csv-caption-key <name>', 'caption column', 'title')
    .option('--folder <dir>', 'folder of images with same-name .txt captions')
    .option('--shards <tars...>', 'WebDataset tar shards (key.jpg + key.txt)')
    .option('--folder-classes <dir>', 'labelled ImageFolder <dir>/<class>/<image>: class prompts as captions')
    .option('--templates <file>', 'prompts for --folder-classes, one per line with {} (default: the 80 ImageNet ones)')
    .option('--samples <n>', 'samples per epoch for --shards', positiveInt)
    .option('-b, --batch-size <n>', 'batch size (the contrastive loss sees the whole batch)', positiveInt, 32)
    .option('-e, --epochs <n>', 'epochs', positiveInt, 1)
    .option('--lr <x>', 'peak learning rate', positiveFloat, 5e-5)
    .option('--warmup <steps>', 'linear warm-up steps before the cosine decay', nonNegativeInt, 0)
    .option('--wd <x>', 'AdamW weight decay (not on gains, biases, 1-d tensors, logit_scale)', nonNegativeFloat, 0.2)
    .option('--clip-grad-norm <x>', 'clip the global gradient norm', positiveFloat)
    .option('--lock-image', 'freeze the image tower (locked-image tuning)')
    .option('--lock-text', 'freeze the text tower')
    .option('--seed <n>', 'data order seed', nonNegativeInt, 0)
    .option('--save-every <steps>', 'checkpoint every N steps (and at the end)', positiveInt)
    .option('--resume', 'continue the run in --output exactly where it stopped (same data and settings)')
    .option('--eval-every <steps>', 'evaluate every N steps (default: after the last step only)', positiveInt)
    .option(
      '--eval-folder <dir>',
      'zero-shot top-1 on a labelled folder <dir>/<label>/<image> (prompt "a photo of a {}.")',
    )
    .option('--eval-pairs <csv>', 'text↔image recall@1 and @5 on held-out pairs (CSV format and columns as --csv)');
  runtimeOptions(cmd)
    .addHelpText(
      'after',
      `
Examples:
  clip train -m ViT-B/32 --csv pairs.csv -o tuned.safetensors -b 64 -e 3 --lr 1e-5 --lock-image
  clip train -m ViT-B/32 --csv pairs.csv -o tuned.safetensors -b 64 -e 3 --lr 1e-5 --lock-image --resume
  clip train -m scratch:RN50 --shards data/{000..099}.tar --samples 100000 -o rn50.safetensors --save-every 500`,
    )
    .action(async (o: Record<string, unknown>) => {
      const csvOptions = { imageKey: o.csvImgKey as string, captionKey: o.csvCaptionKey as string };
      const sources = ['csv', 'folder', 'shards', 'folderClasses'].filter((k) => o[k]);
      if (sources.length !== 1) {
        throw new UsageError(
          'give the training data with exactly one of --csv, --folder, --folder-classes or --shards (with --samples)',
        );
      }
      const data = o.csv
        ? { csv: o.csv as string, csvOptions }
        : o.folder
          ? { folder: o.folder as string }
          : o.shards
            ? { shards: o.shards as string[], samples: o.samples as number }
            : {
                folderClasses: o.folderClasses as string,
                templates: o.templates ? readTemplateFile(o.templates as string) : IMAGENET_TEMPLATES,
              };
      if ('shards' in data && !data.samples) throw new UsageError('--shards needs --samples (samples per epoch)');
      for (const flag of ['csv', 'folder', 'folderClasses', 'templates', 'evalFolder', 'evalPairs'] as const) {
        const path = o[flag] as string | undefined;
        const name = `--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
        if (path !== undefined && !existsSync(path)) throw new UsageError(`${name} ${path}: no such file or folder`);
      }
      const evaluation =
        o.evalFolder || o.evalPairs
          ? {
              every: o.evalEvery as number | undefined,
              ...(o.evalFolder ? { folder: o.evalFolder as string } : {}),
              ...(o.evalPairs ? { pairs: { csv: o.evalPairs as string, csvOptions } } : {}),
            }
          : undefined;
      if (o.evalEvery && !evaluation) throw new UsageError('--eval-every needs --eval-folder and/or --eval-pairs');
      checkOutput(o);
      checkDevice(o.device as string);
      const { device, threads, bpePath, config: modelConfig, vocabPath, ...fetch } = loadOptions(o);
      const { ResumeMismatchError, trainClip } = await import('../train/index.js');
      // A live status line on a terminal; JSON lines (one per step and per evaluation) otherwise, for logs.
      const tty = process.stderr.isTTY;
      const result = await trainClip({
        model: o.model as string,
        output: o.output as string,
        data,
        batchSize: o.batchSize as number,
        epochs: o.epochs as number,
        lr: o.lr as number,
        warmup: o.warmup as number,
        optimizer: { weightDecay: o.wd as number },
        clipGradNorm: o.clipGradNorm as number | undefined,
        freeze: { image: Boolean(o.lockImage), text: Boolean(o.lockText) },
        seed: o.seed as number,
        saveEvery: o.saveEvery as number | undefined,
        resume: Boolean(o.resume),
        ...(bpePath ? { bpePath } : {}),
        ...(modelConfig ? { modelConfig } : {}),
        runtime: { device, threads },
        fetch,
        ...(evaluation ? { evaluation } : {}),
        onStep: (info) => {
          const { step, epoch, loss, lr, logitScale, samplesPerSecond, skipped } = info;
          if (tty)
            process.stderr.write(
              `\rstep ${step}  epoch ${epoch}  loss ${loss.toFixed(4)}  lr ${lr.toExponential(2)}  logit scale ` +
                `${logitScale.toFixed(2)}  ${samplesPerSecond.toFixed(1)} samples/s  skipped ${skipped}   `,
            );
          else console.error(JSON.stringify(info));
        },
        onEval: ({ step, epoch, ...result }) => {
          if (tty) process.stderr.write(`\neval step ${step}  epoch ${epoch}  ${describeEval(result)}\n`);
          else console.error(JSON.stringify({ step, epoch, eval: result }));
        },
      }).catch((e: unknown) => {
        if (e instanceof ResumeMismatchError) {
          const flags = e.changed.map((setting) => SETTING_FLAGS[setting] ?? setting).join(', ');
          throw new UsageError(
            `--resume: ${e.output} was started with other ${flags}; resume with the same ones, ` +
              'or start over with --overwrite or another --output',
          );
        }
        throw e;
      });
      if (tty) process.stderr.write('\n');
      console.log(JSON.stringify({ output: o.output, ...result }));
    });
}
