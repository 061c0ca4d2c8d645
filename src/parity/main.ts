#!/usr/bin/env node
// `npm run parity -- <dir>`: see run.ts. Exit code 1 if any check fails (or none ran).

import { existsSync } from 'node:fs';
import { runParity } from './run.js';

const dir = process.argv[2];
if (!dir || !existsSync(dir)) {
  console.error(`usage: npm run parity -- <fixture folder>${dir ? ` (${dir} does not exist)` : ''}`);
  process.exit(2);
}
const { failed, checks } = await runParity(dir);
process.exit(failed > 0 || checks === 0 ? 1 : 0);
