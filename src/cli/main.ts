#!/usr/bin/env node
// The `clip` command: one thin subcommand per library feature.

import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Command, Option } from 'commander';
import { defaultTokenizer } from '../text/index.js';
import { trainClip, type EvalResult } from '../train/index.js';
import { embedImages, expandImagePaths } from '../embed.js';
import { load, type LoadOptions } from '../load.js';
import { availableChineseClipModels, availableModels } from '../zoo/models.js';
import { downloadModel } from '../zoo/fetch.js';
import { CHINESE_SINGLE_TEMPLATE, CHINESE_TEMPLATES, DEFAULT_TEMPLATES, SINGLE_TEMPLATE } from '../zeroshot/templates.js';
import { zeroShotClassifier } from '../zeroshot/classifier.js';
import { registerTokenize } from './tokenize.js';

// sharp decodes on libuv's thread pool (4 threads unless set before its first use): let image
// decoding use every core.
process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, availableParallelism()));

const program = new Command('clip').description('CLIP in TypeScript: embeddings, zero-shot classification, tokenization');

function modelOptions(cmd: Command): Command {
  return cmd
    .option('-m, --model <name|path>', 'model name (see `clip models`), hf-hub:owner/repo, or a checkpoint path', 'ViT-B/32')
    .addOption(new Option('--device <device>', 'where to run').choices(['cpu', 'cuda']).default('cpu'))
    .option('--threads <n>', 'intra-op threads (default: one per core)', (v) => Number.parseInt(v, 10))
    .option('--cache-dir <dir>', 'download cache (default: $CLIP_CACHE_DIR or ~/.cache/clip)')
    .option('--offline', 'never download; use cached files only')
    .option('--bpe <path>', 'tokenizer merges file (bpe_simple_vocab_16e6.txt.gz) for OpenAI models')
    .option('--vocab <path>', 'BERT vocab.txt for Chinese-CLIP models');
}

function loadOptions(o: Record<string, unknown>): LoadOptions {
  return { device: o.device as 'cpu' | 'cuda', threads: o.threads as number | undefined, cacheDir: o.cacheDir as string | undefined, offline: o.offline as boolean | undefined, bpePath: o.bpe as string | undefined, vocabPath: o.vocab as string | undefined };
}

program.command('models').description('list the model names `--model` accepts (besides hf-hub:owner/repo and paths)').action(() => {
  for (const name of [...availableModels(), ...availableChineseClipModels()]) console.log(name);
});

program.command('download').description('download a model (and its tokenizer files) into the cache')
  .argument('<name>', 'model name or hf-hub:owner/repo')
  .option('--cache-dir <dir>', 'download cache')
  .action(async (name: string, o: { cacheDir?: string }) => {
    console.log(JSON.stringify(await downloadModel(name, { cacheDir: o.cacheDir }), null, 2));
  });

modelOptions(program.command('embed').description('print image and/or text embeddings as JSON lines'))
  .argument('[images...]', 'image files or folders of images')
  .option('-t, --text <text...>', 'texts to embed')
  .option('--normalize', 'L2-normalise the embeddings')
  .option('-b, --batch-size <n>', 'images per model run (the next batch is decoded meanwhile)', (v) => Number.parseInt(v, 10), 32)
  .option('--fast-jpeg', 'decode large JPEGs at reduced scale first (much faster, not bit-exact with the reference)')
  .action(async (paths: string[], o: Record<string, unknown>) => {
    const clip = await load(o.model as string, loadOptions(o));
    const emit = (kind: string, input: string, row: Float32Array) => {
      let v = Array.from(row);
      if (o.normalize) { const n = Math.hypot(...v); v = v.map((x) => x / n); }
      console.log(JSON.stringify({ [kind]: input, embedding: v }));
    };
    const images = expandImagePaths(paths);
    const started = performance.now();
    let done = 0;
    let failed = 0;
    for await (const { embeddings, failures } of embedImages(clip, images, { batchSize: o.batchSize as number, preprocess: { fastJpeg: Boolean(o.fastJpeg) } })) {
      for (const f of failures) console.error(`skipped: ${f.error.message}`);
      for (const e of embeddings) emit('image', e.input as string, e.embedding);
      done += embeddings.length;
      failed += failures.length;
    }
    if (images.length) {
      const seconds = (performance.now() - started) / 1000;
      console.error(`embedded ${done} images in ${seconds.toFixed(1)} s (${(done / seconds).toFixed(1)} images/s end to end)${failed ? `, ${failed} skipped` : ''}`);
      if (failed) process.exitCode = 1;
    }
    const texts = (o.text as string[] | undefined) ?? [];
    if (texts.length) {
      const features = await clip.model.encodeText(clip.tokenize(texts, { truncate: true }));
      const d = features.shape[1]!;
      texts.forEach((t, i) => emit('text', t, features.data.subarray(i * d, (i + 1) * d)));
    }
    await clip.model.release();
  });

modelOptions(program.command('classify').description('zero-shot classification of images against labels'))
  .argument('<images...>', 'image files or folders of images')
  .requiredOption('-l, --labels <labels>', 'comma-separated labels, e.g. "a dog,a cat,a diagram"')
  .option('--templates <file>', 'prompt templates, one per line with {} for the label (default: a 7-prompt ensemble; Chinese prompts for Chinese-CLIP)')
  .option('--template <template...>', 'prompt template(s) given inline, e.g. "a photo of a {}." or "一张{}的照片"')
  .option('--json', 'print one JSON line per image: {"image", "predictions": [{"label", "probability"}]}')
  .option('--single-prompt', 'use only the reference prompt "a photo of a {}." ("{}的照片。" for Chinese-CLIP)')
  .option('-k, --top <k>', 'labels to print per image', (v) => Number.parseInt(v, 10), 5)
  .action(async (images: string[], o: Record<string, unknown>) => {
    const clip = await load(o.model as string, loadOptions(o));
    const chinese = clip.model.config.text.kind === 'bert';
    const labels = (o.labels as string).split(',').map((l) => l.trim()).filter(Boolean);
    const templates = o.template ? (o.template as string[])
      : o.templates ? readFileSync(o.templates as string, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean)
      : chinese ? (o.singlePrompt ? CHINESE_SINGLE_TEMPLATE : CHINESE_TEMPLATES)
      : o.singlePrompt ? SINGLE_TEMPLATE : DEFAULT_TEMPLATES;
    const classifier = await zeroShotClassifier(clip.model, (t) => clip.tokenize(t, { truncate: true }), labels, { templates });
    for await (const { embeddings, failures } of embedImages(clip, expandImagePaths(images))) {
      for (const f of failures) { console.error(`skipped: ${f.error.message}`); process.exitCode = 1; }
      if (!embeddings.length) continue;
      const d = embeddings[0]!.embedding.length;
      const features = new Float32Array(embeddings.length * d);
      embeddings.forEach((e, row) => features.set(e.embedding, row * d));
      const predictions = await classifier.classify({ data: features, shape: [embeddings.length, d] }, o.top as number);
      embeddings.forEach((e, row) => {
        if (o.json) { console.log(JSON.stringify({ image: e.input, predictions: predictions[row] })); return; }
        console.log(e.input);
        for (const p of predictions[row]!) console.log(`  ${(100 * p.probability).toFixed(2).padStart(6)}%  ${p.label}`);
      });
    }
    await clip.model.release();
  });

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

program.command('train').description('contrastive training / fine-tuning from a checkpoint on image-caption pairs')
  .requiredOption('-m, --model <name|path|scratch:arch>', 'start from a checkpoint file (any format load() reads), a model name (downloaded), or scratch:<architecture> (e.g. scratch:ViT-B/32, random weights)')
  .requiredOption('-o, --output <file.safetensors>', 'where checkpoints are written (optimiser state goes beside it)')
  .option('--csv <file>', 'CSV/TSV of image paths and captions (open_clip columns)')
  .option('--csv-img-key <name>', 'image path column', 'filepath')
  .option('--csv-caption-key <name>', 'caption column', 'title')
  .option('--folder <dir>', 'folder of images with same-name .txt captions')
  .option('--shards <tars...>', 'WebDataset tar shards (key.jpg + key.txt)')
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
      : undefined;
    if (!data) throw new Error('give the training pairs with --csv, --folder or --shards (with --samples)');
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

registerTokenize(program);

try {
  await program.parseAsync();
} catch (e) {
  console.error(`clip: ${(e as Error).message}`);
  process.exit(1);
}
