// `clip models` and `clip download`: what can be loaded by name, and fetching it into the cache.
import type { Command } from 'commander';
import { availableChineseClipModels, availableModels } from '../zoo/models.js';
import { downloadModel } from '../zoo/fetch.js';

export function registerModels(program: Command): void {
  program.command('models').description('list the model names `--model` accepts (besides hf-hub:owner/repo and paths)').action(() => {
    for (const name of [...availableModels(), ...availableChineseClipModels()]) console.log(name);
  });
  
  program.command('download').description('download a model (and its tokenizer files) into the cache')
    .argument('<name>', 'model name or hf-hub:owner/repo')
    .option('--cache-dir <dir>', 'download cache')
    .action(async (name: string, o: { cacheDir?: string }) => {
      console.log(JSON.stringify(await downloadModel(name, { cacheDir: o.cacheDir }), null, 2));
    });
}
