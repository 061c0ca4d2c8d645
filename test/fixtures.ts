// Where the golden fixtures live (../shared beside the checkout), and the loud skip without them.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SHARED = process.env.CLIP_SHARED_DIR ?? resolve(repoRoot, '..', 'shared');
export const OPENAI_FIXTURES = join(SHARED, 'fixtures', 'openai-clip');
export const CHINESE_FIXTURES = join(SHARED, 'fixtures', 'chinese-clip');
export const FTFY_FIXTURES = join(SHARED, 'fixtures', 'ftfy-test-cases');

/** `skip` option for node:test: false when the folder exists, else a loud reason. */
export function needsFixtures(dir: string): false | string {
  if (existsSync(dir)) return false;
  const howTo = 'clone ../shared beside this checkout or set CLIP_SHARED_DIR';
  const reason = `SKIPPED: golden fixtures not found at ${dir} (${howTo})`;
  console.warn(`\n*** ${reason} ***\n`);
  return reason;
}
