// Tokenizer parity against a fixture folder laid out like openai-clip: every case of
// tokenizer_cases.json, with the folder's own bpe_simple_vocab_16e6.txt.gz.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Check } from './check.js';
import { Tokenizer } from '../text/tokenizer.js';
import { DEFAULT_BPE_FILE } from '../text/vocab.js';

/** One entry of tokenizer_cases.json → cases (the fields this check reads). */
export interface TokenizerCase {
  id: number;
  category: string;
  text: string;
  encode: number[];
  decode: string;
  tokenize: { truncate_false: number[] | { error: string }; truncate_true: number[] };
  ftfy_changes_text: boolean;
}

function sameIds(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  return a.length === b.length && Array.prototype.every.call(a, (x: number, i: number) => x === b[i]);
}

function firstDifference(ours: ArrayLike<number>, ref: ArrayLike<number>): string {
  let i = 0;
  while (i < Math.min(ours.length, ref.length) && ours[i] === ref[i]) i++;
  return (
    `first difference at ${i} (ours ${ours[i] ?? 'end'}, reference ${ref[i] ?? 'end'}; lengths ` +
    `${ours.length}/${ref.length})`
  );
}

/** What differs between our tokenizer and the reference on one case; empty when nothing does. */
export function caseDifferences(tokenizer: Tokenizer, c: TokenizerCase, contextLength = 77): string[] {
  const problems: string[] = [];
  let ids: number[] | undefined;
  try {
    ids = tokenizer.encode(c.text);
    if (!sameIds(ids, c.encode)) problems.push(`encode: ${firstDifference(ids, c.encode)}`);
  } catch (e) {
    problems.push(`encode threw ${(e as Error).message}`);
  }
  const rows: [string, boolean, number[] | { error: string }][] = [
    ['tokenize(truncate=false)', false, c.tokenize.truncate_false],
    ['tokenize(truncate=true)', true, c.tokenize.truncate_true],
  ];
  for (const [what, truncate, expected] of rows) {
    let row: Int32Array | undefined;
    try {
      row = tokenizer.tokenize(c.text, { contextLength, truncate }).data;
    } catch (e) {
      if (Array.isArray(expected)) problems.push(`${what} threw ${(e as Error).message}`);
      continue;
    }
    if (!Array.isArray(expected)) problems.push(`${what}: expected the too-long error, got a row`);
    else if (!sameIds(row, expected)) problems.push(`${what}: ${firstDifference(row, expected)}`);
  }
  try {
    const text = tokenizer.decode(c.encode);
    if (text !== c.decode) problems.push(`decode: got ${JSON.stringify(text)}, expected ${JSON.stringify(c.decode)}`);
  } catch (e) {
    problems.push(`decode threw ${(e as Error).message}`);
  }
  return problems;
}

/**
 * One Check per case (group "tokenizer"): encode ids, both 77-token rows (or the too-long error),
 * decode. No checks for a folder without tokenizer_cases.json and its merges file.
 */
export async function tokenizerChecks(dir: string): Promise<Check[]> {
  const casesPath = join(dir, 'tokenizer_cases.json');
  const mergesPath = join(dir, DEFAULT_BPE_FILE);
  if (!existsSync(casesPath) || !existsSync(mergesPath)) return [];
  const tokenizer = Tokenizer.fromMergesFile(mergesPath);
  const file = JSON.parse(await readFile(casesPath, 'utf8')) as { context_length: number; cases: TokenizerCase[] };
  return file.cases.map((c) => {
    const problems = caseDifferences(tokenizer, c, file.context_length);
    const note = c.ftfy_changes_text ? ' (ftfy changes this text)' : '';
    return {
      name: `tokenizer #${c.id} ${c.category}`,
      passed: problems.length === 0,
      detail: problems.length === 0 ? `encode, tokenize and decode match${note}` : problems.join('; ') + note,
      group: 'tokenizer',
    };
  });
}
