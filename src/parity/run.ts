// Runs every parity suite against a fixture folder laid out like ../shared/fixtures/openai-clip:
// one line per check, then one line of JSON summarising them.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Check } from './check.js';
import { preprocessChecks } from './preprocess.js';
import { tokenizerChecks } from './tokenizer.js';
import { wordpieceChecks } from './wordpiece.js';
import { chineseModelChecks } from './chinese-models.js';
import { modelChecks } from './models.js';
import { openClipChecks } from './open-clip.js';
import { pipelineChecks } from './pipeline.js';
import { trainChecks } from './train.js';

/** Each suite returns no checks for a folder without its files. */
const SUITES: [string, (dir: string) => Promise<Check[]>][] = [
  ['tokenizer', tokenizerChecks],
  ['wordpiece', wordpieceChecks],
  // preprocessChecks refuses a folder without preprocess/ (open-clip's has none: its pixels are in outputs/).
  ['preprocess', (dir) => (existsSync(join(dir, 'preprocess')) ? preprocessChecks(dir) : Promise.resolve([]))],
  ['model', modelChecks],
  ['chinese-model', chineseModelChecks],
  ['open-clip', openClipChecks],
  ['pipeline', pipelineChecks],
  ['train', trainChecks],
];

function format(c: Check): string {
  const figures =
    c.maxAbs === undefined || c.maxRel === undefined
      ? ''
      : ` maxAbs=${c.maxAbs.toExponential(2)} maxRel=${c.maxRel.toExponential(2)}`;
  return `${c.passed ? 'PASS' : 'FAIL'} [${c.group}] ${c.name}${figures}${c.detail ? ` (${c.detail})` : ''}`;
}

export async function runParity(
  dir: string,
  log: (line: string) => void = console.log,
): Promise<{ checks: number; passed: number; failed: number }> {
  const all: Check[] = [];
  for (const [, suite] of SUITES) {
    for (const c of await suite(dir)) {
      all.push(c);
      log(format(c));
    }
  }
  const groups: Record<string, { checks: number; passed: number; failed: number }> = {};
  for (const c of all) {
    const g = (groups[c.group] ??= { checks: 0, passed: 0, failed: 0 });
    g.checks++;
    if (c.passed) g.passed++;
    else g.failed++;
  }
  const numeric = all.filter((c): c is Check & { maxAbs: number } => c.maxAbs !== undefined);
  const worst = numeric.reduce<(typeof numeric)[number] | undefined>(
    (w, c) => (!w || c.maxAbs > w.maxAbs ? c : w),
    undefined,
  );
  const summary = {
    dir,
    checks: all.length,
    passed: all.filter((c) => c.passed).length,
    failed: all.filter((c) => !c.passed).length,
    worst: worst ? { name: worst.name, maxAbs: worst.maxAbs, maxRel: worst.maxRel } : null,
    groups,
  };
  log(JSON.stringify(summary));
  return summary;
}
