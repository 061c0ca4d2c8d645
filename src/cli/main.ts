#!/usr/bin/env node
// The `clip` command: one thin subcommand per library feature.

// First: re-runs `clip` with a short command line when its arguments are long (see the file).
import './short-argv.js';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Command, CommanderError } from 'commander';
import { registerClassify } from './classify.js';
import { registerEmbed } from './embed.js';
import { registerIndex } from './index.js';
import { registerEval } from './eval.js';
import { registerMerge } from './merge.js';
import { registerModels } from './models.js';
import { registerSearch } from './search.js';
import { registerServe } from './serve.js';
import { registerQuantize } from './quantize.js';
import { UsageError } from './options.js';
import { registerTokenize } from './tokenize.js';
import { registerTrain } from './train.js';
import { registerWorker } from './worker.js';

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

// One line per command; each command lives in its own file.
registerModels(program);
registerEmbed(program);
registerClassify(program);
registerTrain(program);
registerTokenize(program);
registerWorker(program);
registerIndex(program);
registerSearch(program);
registerServe(program);
registerQuantize(program);
registerEval(program);
registerMerge(program);

try {
  await program.parseAsync();
} catch (e) {
  if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
  console.error(`clip: ${(e as Error).message}`);
  process.exit(e instanceof UsageError ? 2 : 1);
}
