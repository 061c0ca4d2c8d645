// `clip train`: contrastive training / fine-tuning on image-caption pairs.
import type { Command } from 'commander';
import { defaultTokenizer } from '../zoo/tokenizer.js';
import { IMAGENET_TEMPLATES, readTemplateFile } from '../zeroshot/templates.js';
import { trainClip, type EvalResult } from '../train/index.js';

/** One line for a terminal: "zero-shot top-1 42.0% (50 images)  image→text R@1 …". */
function describeEval({ zeroShot, retrieval }: EvalResult): string {
  const parts: string[] = [];
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  if (zeroShot) parts.push(`zero-shot top-1 ${pct(zeroShot.top1)} (${zeroShot.images} images${zeroShot.skipped ? `, ${zeroShot.skipped} skipped` : ''})`);
  if (retrieval) {
    for (const [way, recall] of [['image→text', retrieval.imageToText], ['text→image', retrieval.textToImage]] as const) {
      parts.push(`${way} ${Object.entries(recall).map(([k, r]) => `R@${k} ${pct(r)}`).join(' ')}`);
    }
    parts.push(`(${retrieval.pairs} pairs${retrieval.skipped ? `, ${retrieval.skipped} skipped` : ''})`);
  }
  return parts.join('  ');
}

export function registerTrain(program: Command): void {
  program.command('train').description('contrastive training / fine-tuning from a checkpoint on image-caption pairs')
    .requiredOption('-m, --model <name|path|scratch:arch>', 'start from a checkpoint file (any format load() reads), a model name (downloaded), or scratch:<architecture> (e.g. scratch:ViT-B/32, random weights)')
    .requiredOption('-o, --output <file.safetensors>', 'where checkpoints are written (optimiser state goes beside it)')
    .option('--csv <file>', 'CSV/TSV of image paths and captions (open_clip columns)')
    .option('--csv-img-key <name>', 'image path column', 'filepath')
    .option('--csv-caption-key <name>', 'caption column', 'title')
    .option('--folder <dir>', 'folder of images with same-name .txt captions')
    .option('--shards <tars...>', 'WebDataset tar shards (key.jpg + key.txt)')
    .option('--folder-classes <dir>', 'labelled ImageFolder <dir>/<class>/<image>: class prompts as captions')
    .option('--templates <file>', 'prompts for --folder-classes, one per line with {} (default: the 80 ImageNet ones)')
    .option('--samples <n>', 'samples per epoch for --shards', (v) => Number.parseInt(v, 10))
    .option('-b, --batch-size <n>', 'batch size (the contrastive loss sees the whole batch)', (v) => Number.parseInt(v, 10), 32)
    .option('-e, --epochs <n>', 'epochs', (v) => Number.parseInt(v, 10), 1)
    .option('--lr <x>', 'peak learning rate', Number.parseFloat, 5e-5)
    .option('--warmup <steps>', 'linear warm-up steps before the cosine decay', (v) => Number.parseInt(v, 10), 0)
    .option('--wd <x>', 'AdamW weight decay (not on gains, biases, 1-d tensors, logit_scale)', Number.parseFloat, 0.2)
    .option('--clip-grad-norm <x>', 'clip the global gradient norm', Number.parseFloat)
    .option('--lock-image', 'freeze the image tower (locked-image tuning)')
    .option('--lock-text', 'freeze the text tower')
    .option('--seed <n>', 'data order seed', (v) => Number.parseInt(v, 10), 0)
    .option('--save-every <steps>', 'checkpoint every N steps (and at the end)', (v) => Number.parseInt(v, 10))
    .option('--resume', 'continue the run in --output exactly where it stopped')
    .option('--eval-every <steps>', 'evaluate every N steps (default with --eval-folder/--eval-pairs: after the last step only)', (v) => Number.parseInt(v, 10))
    .option('--eval-folder <dir>', 'zero-shot top-1 on a labelled folder <dir>/<label>/<image> (prompt "a photo of a {}.")')
    .option('--eval-pairs <csv>', 'text↔image recall@1 and @5 on held-out pairs (same CSV format and columns as --csv)')
    .option('--bpe <path>', 'tokenizer merges file')
    .option('--threads <n>', 'intra-op threads', (v) => Number.parseInt(v, 10))
    .action(async (o: Record<string, unknown>) => {
      const csvOptions = { imageKey: o.csvImgKey as string, captionKey: o.csvCaptionKey as string };
      const data = o.csv ? { csv: o.csv as string, csvOptions }
        : o.folder ? { folder: o.folder as string }
        : o.shards ? { shards: o.shards as string[], samples: o.samples as number }
        : o.folderClasses ? {
          folderClasses: o.folderClasses as string,
          templates: o.templates ? readTemplateFile(o.templates as string) : IMAGENET_TEMPLATES,
        }
        : undefined;
      if (!data) throw new Error('give the training data with --csv, --folder, --folder-classes or --shards (+ --samples)');
      if ('shards' in data && !data.samples) throw new Error('--shards needs --samples (samples per epoch)');
      const evaluation = o.evalFolder || o.evalPairs ? {
        every: o.evalEvery as number | undefined,
        ...(o.evalFolder ? { folder: o.evalFolder as string } : {}),
        ...(o.evalPairs ? { pairs: { csv: o.evalPairs as string, csvOptions } } : {}),
      } : undefined;
      if (o.evalEvery && !evaluation) throw new Error('--eval-every needs --eval-folder and/or --eval-pairs');
      // A live status line on a terminal; JSON lines (one per step and per evaluation) otherwise, for logs.
      const tty = process.stderr.isTTY;
      const result = await trainClip({
        model: o.model as string, output: o.output as string, data,
        batchSize: o.batchSize as number, epochs: o.epochs as number, lr: o.lr as number, warmup: o.warmup as number,
        optimizer: { weightDecay: o.wd as number }, clipGradNorm: o.clipGradNorm as number | undefined,
        freeze: { image: Boolean(o.lockImage), text: Boolean(o.lockText) }, seed: o.seed as number,
        saveEvery: o.saveEvery as number | undefined, resume: Boolean(o.resume),
        tokenizer: defaultTokenizer(o.bpe as string | undefined), runtime: { threads: o.threads as number | undefined },
        ...(evaluation ? { evaluation } : {}),
        onStep: (info) => {
          const { step, epoch, loss, lr, logitScale, samplesPerSecond, skipped } = info;
          if (tty) process.stderr.write(`\rstep ${step}  epoch ${epoch}  loss ${loss.toFixed(4)}  lr ${lr.toExponential(2)}  logit scale ${logitScale.toFixed(2)}  ${samplesPerSecond.toFixed(1)} samples/s  skipped ${skipped}   `);
          else console.error(JSON.stringify(info));
        },
        onEval: ({ step, epoch, ...result }) => {
          if (tty) process.stderr.write(`\neval step ${step}  epoch ${epoch}  ${describeEval(result)}\n`);
          else console.error(JSON.stringify({ step, epoch, eval: result }));
        },
      });
      if (tty) process.stderr.write('\n');
      console.log(JSON.stringify({ output: o.output, ...result }));
    });
}
