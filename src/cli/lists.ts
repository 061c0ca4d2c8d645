// Lists read from files (`--labels-file`, `--templates-file`, `--files-from`, …), so that thousands
// of items need not go on the command line: one item per line, `-` for standard input.
import { readFileSync } from 'node:fs';
import { UsageError } from './options.js';

/** The non-blank lines of `path` (trailing spaces and CRs removed); `flag` names the option in errors. */
export function readListFile(path: string, flag: string): string[] {
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'is a folder, expected a text file'
          : (e as Error).message;
    throw new UsageError(`${flag} ${path}: ${why}`);
  }
  // A byte-order mark (as some editors write) is not part of the first item.
  const lines = text
    .replace(/^\uFEFF/, '')
    .split('\n')
    .map((line) => line.replace(/\s+$/, ''));
  return lines.filter((line) => line.trim() !== '');
}

/** Items given inline (`--labels a,b`) and/or from a list file, refusing an empty result and duplicates. */
export function requireDistinct(items: readonly string[], what: string): string[] {
  if (items.length === 0) throw new UsageError(`no ${what} given`);
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const item of items) (seen.has(item) ? repeated : seen).add(item);
  if (repeated.size) {
    const shown = [...repeated]
      .slice(0, 5)
      .map((r) => JSON.stringify(r))
      .join(', ');
    const more = repeated.size > 5 ? ` and ${repeated.size - 5} more` : '';
    throw new UsageError(`${what} must be distinct; repeated: ${shown}${more}`);
  }
  return [...items];
}
