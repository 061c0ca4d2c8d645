// `clip index`: build or update a photo index (see src/search/indexer.ts), or import queue output.
import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import {
  clearIndex,
  importShards,
  indexFolders,
  indexingThreads,
  loadIndexModel,
  modelForIndex,
  openIndex,
  storedModel,
  type IndexSummary,
} from '../search/index.js';
import { loadInWorker } from '../index.js';
import { loadOptions, modelOptions, positiveInt, UsageError } from './options.js';

export function registerIndex(program: Command): void {
  modelOptions(
    program.command('index').description('index the photos under folders for `clip search` (incremental, resumable)'),
  )
    .argument('[folders...]', 'folders (searched recursively) or image files')
    .requiredOption('--db <file>', 'the index file (SQLite), created if missing')
    .option(
      '--exclude <glob...>',
      'skip paths matching these globs (relative to the folder, or absolute), e.g. "**/thumbs/**"',
    )
    .option('--reindex', 'drop the index first (needed to switch to another model)')
    .option('--import <dir>', 'import the output folder of `clip embed --queue … --out dir` (manifest.json + shards)')
    .option(
      '-b, --batch-size <n>',
      'images per commit (one transaction; a killed run loses at most one)',
      positiveInt,
      32,
    )
    .option('--json', 'print one summary object {"added", "updated", "removed", "unchanged", "failed", "total"}')
    .addHelpText(
      'after',
      '\nExample:\n  clip index ~/Pictures --db photos.clip.db --exclude "**/.thumbnails/**"\n' +
        '  clip search "a red bicycle at the beach" --db photos.clip.db',
    )
    .action(async (folders: string[], o: Record<string, unknown>, cmd: Command) => {
      if (!folders.length && !o.import) throw new UsageError('clip index: give folders to index, or --import <dir>');
      if (folders.length && o.import) throw new UsageError('clip index: give folders to index or --import, not both');
      const batchSize = o.batchSize as number;
      const dbPath = o.db as string;
      const db = openIndex(dbPath);
      if (o.reindex) clearIndex(db);
      const modelGiven = cmd.getOptionValueSource('model') !== 'default';
      // Unless told, the model gets its share of the cores; the decoding of the next batch the rest.
      const options = { ...loadOptions(o), threads: (o.threads as number | undefined) ?? indexingThreads().model };
      // The model runs on a thread of its own, so that the decoding of the next batch never waits for it.
      const model =
        !modelGiven && storedModel(db)
          ? await modelForIndex(db, dbPath, undefined, options, loadInWorker)
          : await loadIndexModel(o.model as string, options, loadInWorker);
      let summary: IndexSummary;
      if (o.import) {
        summary = await importShards(db, dbPath, o.import as string, model.identity, model.clip.model.config.embedDim);
      } else {
        const bar = process.stderr.isTTY
          ? new SingleBar({
              format: 'indexing {bar} {value}/{total} | {rate} images/s | ETA {eta_formatted}',
              stream: process.stderr,
            })
          : undefined;
        model.clip.model.favour(); // the model is the slower stage: the decoders wait for it, not it for them
        const started = performance.now();
        summary = await indexFolders(db, dbPath, model, folders, {
          batchSize,
          exclude: (o.exclude as string[] | undefined) ?? [],
          onProgress: ({ done, todo }) => {
            if (!bar) return;
            if (bar.getTotal() !== todo) bar.start(todo, 0, { rate: '0.0' });
            bar.update(done, { rate: (done / ((performance.now() - started) / 1000)).toFixed(1) });
          },
        });
        bar?.stop();
      }
      db.close();
      await model.clip.model.release();
      for (const f of summary.failures) console.error(`failed: ${f.path}: ${f.error}`);
      const { added, updated, removed, unchanged, failed, total } = summary;
      if (o.json) console.log(JSON.stringify({ added, updated, removed, unchanged, failed, total }));
      else
        console.error(
          `${total} photos: ${added} added, ${updated} updated, ${removed} removed, ` +
            `${unchanged} unchanged, ${failed} failed`,
        );
    });
}
