// Options and argument checks shared by the commands, defined once so they stay uniform: every
// command that opens a model takes the same model and runtime flags, every number is checked when
// it is parsed (a wrong value is a usage error naming the flag, exit 2, before any work starts).
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { LoadOptions } from '../load.js';

/** A mistake in how `clip` was called (main.ts exits with status 2, as for commander's own errors). */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** An argParser that accepts what `valid` accepts of Number(value), else says what was `expected`. */
function numberParser(expected: string, valid: (n: number) => boolean): (value: string) => number {
  return (value) => {
    const n = value.trim() === '' ? NaN : Number(value);
    if (!valid(n)) throw new InvalidArgumentError(`expected ${expected}, got "${value}"`);
    return n;
  };
}

/** `--threads 4`: 1, 2, 3, … (not 0, -1, 2.5, abc). */
export const positiveInt = numberParser('a positive integer', (n) => Number.isSafeInteger(n) && n > 0);
/** `--seed 0`: 0, 1, 2, … */
export const nonNegativeInt = numberParser('a non-negative integer', (n) => Number.isSafeInteger(n) && n >= 0);
/** `--lr 5e-5`: a finite number above 0. */
export const positiveFloat = numberParser('a positive number', (n) => Number.isFinite(n) && n > 0);
/** `--wd 0`: a finite number, 0 or above. */
export const nonNegativeFloat = numberParser('a number ≥ 0', (n) => Number.isFinite(n) && n >= 0);

/** `--threads`: 1 to 1024 (ONNX Runtime fails with bad_alloc long before a billion). */
const threadCount = numberParser('a thread count from 1 to 1024', (n) => Number.isSafeInteger(n) && n > 0 && n <= 1024);

/** Where the model runs and where its files come from: every command that uses a model takes these (train too). */
export function runtimeOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--device <device>', 'where to run (cuda needs the GPU build, see the README)')
        .choices(['cpu', 'cuda'])
        .default('cpu'),
    )
    .option('--threads <n>', 'intra-op threads (default: one per core)', threadCount)
    .option('--cache-dir <dir>', 'download cache (default: $CLIP_CACHE_DIR or ~/.cache/clip)')
    .option('--offline', 'never download; use cached files only (as CLIP_OFFLINE=1)')
    .option('--mirror <url>', 'download from this mirror instead of the original hosts (as CLIP_MIRROR)')
    .option('--bpe <path>', 'tokenizer merges file (bpe_simple_vocab_16e6.txt.gz) for OpenAI models');
}

/** `-m/--model`, the runtime options and `--vocab` (Chinese-CLIP's tokenizer): for commands that run a model. */
export function modelOptions(cmd: Command): Command {
  cmd
    .option('-m, --model <name|path>', 'model name (see `clip models`), hf-hub:owner/repo, or a checkpoint', 'ViT-B/32')
    .option(
      '--model-config <file>',
      "the model's config file when none is beside the checkpoint " +
        '(e.g. open_clip_config.json for an open_clip training checkpoint epoch_N.pt)',
    );
  return runtimeOptions(cmd).option('--vocab <path>', 'BERT vocab.txt for Chinese-CLIP models');
}

/** The parsed runtime options as load() takes them. */
export function loadOptions(o: Record<string, unknown>): LoadOptions {
  return {
    device: o.device as 'cpu' | 'cuda',
    threads: o.threads as number | undefined,
    cacheDir: o.cacheDir as string | undefined,
    offline: o.offline as boolean | undefined,
    baseUrl: o.mirror as string | undefined,
    bpePath: o.bpe as string | undefined,
    vocabPath: o.vocab as string | undefined,
    config: o.modelConfig as string | undefined,
  };
}
