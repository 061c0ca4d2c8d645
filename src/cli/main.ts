#!/usr/bin/env node
// The `clip` command: one thin subcommand per library feature.

// First: re-runs `clip` with a short command line when its arguments are long (see the file).
import './short-argv.js';
import { availableParallelism } from 'node:os';
import { Command } from 'commander';
import { registerClassify } from './classify.js';
import { registerEmbed } from './embed.js';
import { registerModels } from './models.js';
import { registerTokenize } from './tokenize.js';
import { registerTrain } from './train.js';

// sharp decodes on libuv's thread pool (4 threads unless set before its first use): let image
// decoding use every core.
process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, availableParallelism()));

const program = new Command('clip').description('CLIP in TypeScript: embeddings, zero-shot classification, tokenization');

// One line per command; each command lives in its own file.
registerModels(program);
registerEmbed(program);
registerClassify(program);
registerTrain(program);
registerTokenize(program);

try {
  await program.parseAsync();
} catch (e) {
  console.error(`clip: ${(e as Error).message}`);
  process.exit(1);
}
