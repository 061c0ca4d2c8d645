// WordPiece tokenizer parity against a fixture folder laid out like chinese-clip: every case of
// tokenizer_cases.json (and its context_length_cases), with the folder's own vocab.txt.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Check } from './check.js';
import { WordPieceTokenizer } from '../text/wordpiece.js';

/** One entry of tokenizer_cases.json → cases (the fields this check reads). */
export interface WordPieceCase {
  id: number;
  category: string;
  text: string;
  basic_tokens: string[];
  wordpieces: string[];
  wordpiece_ids: number[];
  input_ids: number[];
}

/** One entry of tokenizer_cases.json → context_length_cases. */
export interface ContextLengthCase {
  text: string;
  context_length: number;
  input_ids: number[];
}

interface WordPieceCasesFile {
  defaults?: { context_length?: number };
  cases: WordPieceCase[];
  context_length_cases?: ContextLengthCase[];
}

/** Where two sequences first differ, or undefined when they are equal. */
function firstDifference<T>(ours: ArrayLike<T>, ref: ArrayLike<T>): string | undefined {
  let i = 0;
  while (i < Math.min(ours.length, ref.length) && ours[i] === ref[i]) i++;
  if (i === ours.length && i === ref.length) return undefined;
  const show = (x: T | undefined) => (x === undefined ? 'end' : JSON.stringify(x));
  return (
    `first difference at ${i} (ours ${show(ours[i])}, reference ${show(ref[i])}; lengths ` +
    `${ours.length}/${ref.length})`
  );
}

/** Runs one aspect; a throw counts as a difference. */
function compare<T>(aspect: string, ours: () => ArrayLike<T>, ref: ArrayLike<T>): string[] {
  try {
    const difference = firstDifference(ours(), ref);
    return difference === undefined ? [] : [`${aspect}: ${difference}`];
  } catch (e) {
    return [`${aspect} threw ${(e as Error).message}`];
  }
}

/** What differs between our tokenizer and the reference on one case; empty when nothing does. */
export function wordpieceCaseDifferences(
  tokenizer: WordPieceTokenizer,
  c: WordPieceCase,
  contextLength: number,
): string[] {
  return [
    ...compare('basic_tokens', () => tokenizer.basicTokens(c.text), c.basic_tokens),
    ...compare('wordpieces', () => tokenizer.wordpieces(c.text), c.wordpieces),
    ...compare('wordpiece_ids', () => tokenizer.encode(c.text), c.wordpiece_ids),
    ...compare(
      `input_ids (context length ${contextLength})`,
      () => tokenizer.tokenize(c.text, { contextLength }).data,
      c.input_ids,
    ),
  ];
}

function toCheck(name: string, problems: string[], passedDetail: string): Check {
  return {
    name,
    passed: problems.length === 0,
    detail: problems.length === 0 ? passedDetail : problems.join('; '),
    group: 'tokenizer',
  };
}

/**
 * One Check per case (group "tokenizer"): basic tokens, wordpieces, their ids and the tokenize()
 * row; plus one per context-length case. No checks for a folder without vocab.txt and a
 * tokenizer_cases.json whose cases have `wordpieces` (e.g. the OpenAI layout).
 */
export async function wordpieceChecks(dir: string): Promise<Check[]> {
  const casesPath = join(dir, 'tokenizer_cases.json');
  const vocabPath = join(dir, 'vocab.txt');
  if (!existsSync(casesPath) || !existsSync(vocabPath)) return [];
  const file = JSON.parse(await readFile(casesPath, 'utf8')) as WordPieceCasesFile;
  if (!Array.isArray(file.cases) || !file.cases.every((c) => Array.isArray(c.wordpieces))) return [];
  const tokenizer = WordPieceTokenizer.fromVocabFile(vocabPath);
  const contextLength = file.defaults?.context_length ?? tokenizer.defaultContextLength;
  const checks = file.cases.map((c) =>
    toCheck(
      `wordpiece #${c.id} ${c.category}`,
      wordpieceCaseDifferences(tokenizer, c, contextLength),
      'basic tokens, wordpieces, ids and input_ids match',
    ),
  );
  (file.context_length_cases ?? []).forEach((c, i) => {
    const problems = compare(
      'input_ids',
      () => tokenizer.tokenize(c.text, { contextLength: c.context_length }).data,
      c.input_ids,
    );
    checks.push(toCheck(`wordpiece context_length #${i} (${c.context_length})`, problems, 'input_ids match'));
  });
  return checks;
}
