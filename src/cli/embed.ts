// `clip embed`: image and text embeddings as JSON lines, or into a .jsonl / .npy file.
// The model code (ONNX Runtime, sharp) is imported when the command runs, so that usage errors and
// --help answer without loading it.
import { at } from '../checked.js';
import type { Command } from 'commander';
import type { QueuedEmbedOptions } from '../queue/producer.js';
import { checkDevice } from './device.js';
import { openEmbeddingOutput } from './embedding-output.js';
import { imageList } from './images.js';
import { readListFile } from './lists.js';
import { loadOptions, modelOptions, positiveInt, UsageError } from './options.js';
import { ImageProgress } from './progress.js';

const TEXTS_PER_RUN = 256;

export function registerEmbed(program: Command): void {
  modelOptions(program.command('embed').description('print image and/or text embeddings as JSON lines'))
    .argument('[images...]', 'image files or folders of images')
    .option('--files-from <file>', 'also embed the images listed in this file, one path per line ("-": standard input)')
    .option('-t, --text <text...>', 'texts to embed')
    .option('--texts-file <file>', 'also embed the texts in this file, one per line ("-": standard input)')
    .option('--normalize', 'L2-normalise the embeddings')
    .option('--truncate', 'cut texts longer than the context (as clip.tokenize(truncate=True)) instead of failing')
    .option(
      '-o, --out <path>',
      'write to a .jsonl file, or a .npy float32 matrix (<file>.rows.jsonl names the rows); ' +
        'with --queue, the output folder shared with the workers',
    )
    .option('-b, --batch-size <n>', 'images per model run (the next batch is decoded meanwhile)', positiveInt, 32)
    .option('--fast-jpeg', 'decode large JPEGs at reduced scale first (much faster, not bit-exact with the reference)')
    .option('--queue <redis-url>', 'embed on `clip worker` processes through a Redis queue (needs --out; see below)')
    .option(
      '--shard-size <n>',
      'with --queue: images per job and output shard, a multiple of --batch-size ' +
        '(default: the batch size; 1024 or more for millions of images)',
      positiveInt,
    )
    .option('--float16', 'with --queue: store the embeddings as float16')
    .option('--detach', 'with --queue: enqueue and exit instead of waiting for the run to complete')
    .option('--status', "with --queue and --out: print the run's progress, each worker's images/s and the ETA")
    .addHelpText(
      'after',
      `
Examples:
  clip embed photos/ --normalize > photos.jsonl
  clip embed --files-from list.txt --out photos.npy     (rows named in photos.npy.rows.jsonl)
  clip embed --text "a dog" "a cat" --model ViT-B/16

With --queue, --out is a folder: the images are split into shards that \`clip worker\` processes
(any number, on any machine seeing the same paths) embed; the command waits for every shard, writes
<out>/manifest.json and exits 0 (1 if images failed). Running it again resumes the same run without
duplicating work.
  clip embed --queue redis://queue-host:6379/0 /data/photos list.txt shard-0001.tar --out /data/emb -m ViT-B/32
  clip embed --queue redis://queue-host:6379/0 --out /data/emb --status`,
    )
    .action(async (paths: string[], o: Record<string, unknown>) => {
      if (o.queue) {
        const { runQueuedEmbed } = await import('../queue/producer.js');
        const options = { ...(o as unknown as QueuedEmbedOptions), load: loadOptions(o) };
        process.exitCode = await runQueuedEmbed(paths, options);
        return;
      }
      const { images, problems } = imageList(paths, o.filesFrom as string | undefined);
      const listed = o.textsFile ? readListFile(o.textsFile as string, '--texts-file') : [];
      const texts = [...((o.text as string[] | undefined) ?? []), ...listed];
      if (!images.length && !texts.length && !problems.length) {
        throw new UsageError('nothing to embed: give image files or folders, --files-from, --text or --texts-file');
      }
      const output = openEmbeddingOutput(o.out as string | undefined);
      checkDevice(o.device as string);
      const [{ load }, { embedImages }] = await Promise.all([import('../load.js'), import('../embed.js')]);
      const clip = await load(o.model as string, loadOptions(o));
      try {
        // Texts first: a text too long for the context fails before minutes of image work.
        const tokens = texts.length ? clip.tokenize(texts, { truncate: Boolean(o.truncate) }) : undefined;
        const emit = (kind: 'image' | 'text', input: string, row: Float32Array) => {
          if (o.normalize) {
            const norm = Math.hypot(...row);
            row = row.map((x) => x / norm);
          }
          output.add(kind, input, row);
        };
        const progress = new ImageProgress(images.length + problems.length, 'embedded');
        for (const problem of problems) progress.skip(problem);
        const options = { batchSize: o.batchSize as number, preprocess: { fastJpeg: Boolean(o.fastJpeg) } };
        for await (const { embeddings, failures } of embedImages(clip, images, options)) {
          for (const f of failures) progress.skip(f.error.message);
          for (const e of embeddings) emit('image', e.input as string, e.embedding);
          progress.advance(embeddings.length);
        }
        if ((images.length || problems.length) && progress.finish()) process.exitCode = 1;
        if (tokens) {
          // A few hundred texts per model run: a long --texts-file runs in bounded memory.
          const width = at(tokens.shape, 1);
          for (let start = 0; start < texts.length; start += TEXTS_PER_RUN) {
            const rows = Math.min(TEXTS_PER_RUN, texts.length - start);
            const chunk = { data: tokens.data.subarray(start * width, (start + rows) * width), shape: [rows, width] };
            const features = await clip.model.encodeText(chunk);
            const d = at(features.shape, 1);
            for (let i = 0; i < rows; i++)
              emit('text', at(texts, start + i), features.data.subarray(i * d, (i + 1) * d));
          }
        }
      } finally {
        output.close();
        await clip.model.release();
      }
    });
}
