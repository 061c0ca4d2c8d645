#!/usr/bin/env node
// The `clip` command: one thin subcommand per library feature.

// First: re-runs `clip` with a short command line when its arguments are long (see the file).
import './short-argv.js';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Command, CommanderError } from 'commander';
import { UsageError } from './options.js';

// sharp decodes on libuv's thread pool (4 threads unless set before its first use): let image
// decoding use every core.
process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, availableParallelism()));

const packageJson = new URL('../../../package.json', import.meta.url);
const { version } = JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string };

const program = new Command('clip')
  .description('CLIP in TypeScript: embeddings, zero-shot classification, tokenization')
  .version(version, '-V, --version', 'print the version of clip-ts')
  // Every error is one line "clip: …"; usage errors (commander's and ours) exit with status 2.
  .exitOverride()
  .configureOutput({
    outputError: (message, write) =>
      write(`clip: ${message.replace(/^error: /, '').replace(/\n\(Did you mean (.*)\)/, ' (did you mean $1)')}`),
  });

type Register = (program: Command) => void;

// Each command lives in its own file, listed here in --help order with the command names it
// registers. Only the file of the command being run is imported, so `clip embed` does not load the
// HTTP server, the queue or the evaluator, and a usage error answers in a fraction of a second.
const COMMAND_FILES: [names: string[], load: () => Promise<Register>][] = [
  [['models', 'download'], async () => (await import('./models.js')).registerModels],
  [['embed'], async () => (await import('./embed.js')).registerEmbed],
  [['classify'], async () => (await import('./classify.js')).registerClassify],
  [['train'], async () => (await import('./train.js')).registerTrain],
  [['tokenize'], async () => (await import('./tokenize.js')).registerTokenize],
  [['worker'], async () => (await import('./worker.js')).registerWorker],
  [['index'], async () => (await import('./index.js')).registerIndex],
  [['search', 'dupes'], async () => (await import('./search.js')).registerSearch],
  [['serve'], async () => (await import('./serve.js')).registerServe],
  [['quantize'], async () => (await import('./quantize.js')).registerQuantize],
  [['eval'], async () => (await import('./eval.js')).registerEval],
  [['merge'], async () => (await import('./merge.js')).registerMerge],
];

// The command is the first argument that is not an option (there are no global options with a
// value). Without a known one (`clip --help`, `clip help x`, a typo), every command is registered,
// so the help lists them all and commander can suggest the closest name; `--version` needs none.
const args = process.argv.slice(2);
const named = args.find((arg) => !arg.startsWith('-'));
const chosen = COMMAND_FILES.filter(([names]) => named !== undefined && names.includes(named));
const versionOnly = named === undefined && args.some((arg) => arg === '-V' || arg === '--version');
for (const [, load] of chosen.length > 0 ? chosen : versionOnly ? [] : COMMAND_FILES) (await load())(program);

try {
  await program.parseAsync();
} catch (e) {
  if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
  console.error(`clip: ${(e as Error).message}`);
  process.exit(e instanceof UsageError ? 2 : 1);
}
