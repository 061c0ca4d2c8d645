// Options shared by every command that opens a model, defined once so they stay uniform.
import { Command, Option } from 'commander';
import type { LoadOptions } from '../load.js';

export function modelOptions(cmd: Command): Command {
  return cmd
    .option('-m, --model <name|path>', 'model name (see `clip models`), hf-hub:owner/repo, or a checkpoint path', 'ViT-B/32')
    .option('--model-config <file>', "the model's config file when none is beside the checkpoint "
      + '(e.g. open_clip_config.json for an open_clip training checkpoint epoch_N.pt)')
    .addOption(new Option('--device <device>', 'where to run').choices(['cpu', 'cuda']).default('cpu'))
    .option('--threads <n>', 'intra-op threads (default: one per core)', (v) => Number.parseInt(v, 10))
    .option('--cache-dir <dir>', 'download cache (default: $CLIP_CACHE_DIR or ~/.cache/clip)')
    .option('--offline', 'never download; use cached files only')
    .option('--bpe <path>', 'tokenizer merges file (bpe_simple_vocab_16e6.txt.gz) for OpenAI models')
    .option('--vocab <path>', 'BERT vocab.txt for Chinese-CLIP models');
}

export function loadOptions(o: Record<string, unknown>): LoadOptions {
  return { device: o.device as 'cpu' | 'cuda', threads: o.threads as number | undefined, cacheDir: o.cacheDir as string | undefined, offline: o.offline as boolean | undefined, bpePath: o.bpe as string | undefined, vocabPath: o.vocab as string | undefined, config: o.modelConfig as string | undefined };
}

