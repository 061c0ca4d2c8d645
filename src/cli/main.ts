#!/usr/bin/env node
// The `clip` command: one thin subcommand per library feature.

import { availableParallelism } from 'node:os';
import { Command } from 'commander';
import { registerClassify } from './classify.js';
import { registerEmbed } from './embed.js';
import { registerIndex } from './index.js';
import { registerEval } from './eval.js';
import { registerMerge } from './merge.js';
import { registerModels } from './models.js';
import { registerSearch } from './search.js';
import { registerServe } from './serve.js';
import { registerQuantize } from './quantize.js';
import { registerTokenize } from './tokenize.js';
import { registerTrain } from './train.js';
import { registerWorker } from './worker.js';

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
  console.error(`clip: ${(e as Error).message}`);
  process.exit(1);
}
