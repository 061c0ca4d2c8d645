// `clip embed`: image and text embeddings as JSON lines.
import type { Command } from 'commander';
import { embedImages, expandImagePaths } from '../embed.js';
import { load } from '../load.js';
import { runQueuedEmbed, type QueuedEmbedOptions } from '../queue/producer.js';
import { loadOptions, modelOptions } from './options.js';

export function registerEmbed(program: Command): void {
  modelOptions(program.command('embed').description('print image and/or text embeddings as JSON lines'))
    .argument('[images...]', 'image files or folders of images')
    .option('-t, --text <text...>', 'texts to embed')
    .option('--normalize', 'L2-normalise the embeddings')
    .option('--truncate', 'cut texts longer than the context (as clip.tokenize(truncate=True)) instead of failing')
    .option('-b, --batch-size <n>', 'images per model run (the next batch is decoded meanwhile)', (v) => Number.parseInt(v, 10), 32)
    .option('--fast-jpeg', 'decode large JPEGs at reduced scale first (much faster, not bit-exact with the reference)')
    .option('--queue <redis-url>', 'embed on `clip worker` processes through a Redis queue (needs --out; see below)')
    .option('--out <dir>', 'with --queue: output folder shared with the workers (manifest.json, shards)')
    .option('--shard-size <n>', 'with --queue: images per job and output shard, a multiple of --batch-size '
      + '(default: the batch size; 1024 or more for millions of images)', (v) => Number.parseInt(v, 10))
    .option('--float16', 'with --queue: store the embeddings as float16')
    .option('--detach', 'with --queue: enqueue and exit instead of waiting for the run to complete')
    .option('--status', 'with --queue and --out: print the run\'s progress, each worker\'s images/s and the ETA')
    .addHelpText('after', `
With --queue, the images are split into shards that \`clip worker\` processes (any number, on any
machine seeing the same paths) embed; the command waits for every shard, writes <out>/manifest.json
and exits 0 (1 if images failed). Running it again resumes the same run without duplicating work.
  clip embed --queue redis://queue-host:6379/0 /data/photos list.txt shard-0001.tar --out /data/emb -m ViT-B/32
  clip embed --queue redis://queue-host:6379/0 --out /data/emb --status`)
    .action(async (paths: string[], o: Record<string, unknown>) => {
      if (o.queue) {
        const options = { ...(o as unknown as QueuedEmbedOptions), load: loadOptions(o) };
        process.exitCode = await runQueuedEmbed(paths, options);
        return;
      }
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
        const features = await clip.model.encodeText(clip.tokenize(texts, { truncate: Boolean(o.truncate) }));
        const d = features.shape[1]!;
        texts.forEach((t, i) => emit('text', t, features.data.subarray(i * d, (i + 1) * d)));
      }
      await clip.model.release();
    });
}
