// `clip models` and `clip download`: what can be loaded by name, and fetching it into the cache.
import type { Command } from 'commander';
import { availableChineseClipModels, availableModels } from '../zoo/models.js';
import { downloadModel } from '../zoo/fetch.js';

export function registerModels(program: Command): void {
  program
    .command('models')
    .description('list the model names `--model` accepts (besides hf-hub:owner/repo and paths)')
    .addHelpText('after', '\nExample:\n  clip models | grep ViT')
    .action(() => {
      for (const name of [...availableModels(), ...availableChineseClipModels()]) console.log(name);
    });

  program
    .command('download')
    .description('download a model (and its tokenizer files) into the cache; print where they are')
    .argument('<name>', 'model name (any case, open_clip spelling ViT-B-32 too), or [hf-hub:]owner/repo')
    .option('--cache-dir <dir>', 'download cache (default: $CLIP_CACHE_DIR or ~/.cache/clip)')
    .option('--offline', 'only check that the files are in the cache (as CLIP_OFFLINE=1)')
    .option('--mirror <url>', 'download from this mirror instead of the original hosts (as CLIP_MIRROR)')
    .addHelpText(
      'after',
      `
Examples:
  clip download ViT-B/32
  clip download openai/clip-vit-base-patch16 --mirror https://hf-mirror.example.com`,
    )
    .action(async (name: string, o: { cacheDir?: string; offline?: boolean; mirror?: string }) => {
      const files = await downloadModel(name, { cacheDir: o.cacheDir, offline: o.offline, baseUrl: o.mirror });
      console.log(JSON.stringify(files, null, 2));
    });
}
