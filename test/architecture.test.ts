// The folders' import rules (docs/architecture.md): the engine's pure parts never reach up into
// applications, downloads or checks, and model descriptions never run anything. Read from the
// TypeScript sources, so a violation fails here with the file and the import named.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SRC = join(ROOT, 'src');

/** Folder → the top-level folders of src/ it must never import. */
const FORBIDDEN: Record<string, readonly string[]> = {
  text: ['parity', 'zoo', 'cli', 'train', 'models', 'runtime', 'weights'],
  image: ['parity', 'zoo', 'cli', 'train', 'models', 'runtime', 'weights'],
  weights: ['parity', 'zoo', 'cli', 'train', 'models', 'runtime'],
  graph: ['parity', 'zoo', 'cli', 'train', 'models', 'runtime', 'weights'],
  models: ['runtime', 'parity', 'zoo', 'cli', 'train'],
  // Training is library: it never reaches up into the applications built on it.
  train: ['eval', 'search', 'server', 'queue', 'cli', 'parity'],
  // An application: the library through its public entries (src/index.ts, src/train/index.ts), never the
  // engine's folders (its dataset readers use train/'s folder and CSV loaders).
  eval: ['graph', 'runtime', 'models', 'inference', 'weights', 'image', 'text', 'zoo', 'wasm', 'parity', 'cli'],
};

/** Relative imports of a file (static `from '…'` and dynamic `import('…')`), as paths under src/. */
function importsOf(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  const specifiers = [...source.matchAll(/(?:from\s+|import\s*\(\s*)'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!);
  return specifiers.map((s) => relative(SRC, resolve(dirname(file), s)));
}

const sourceFiles = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));

test("import rules: the engine's lower folders import nothing above them; eval/ no engine folder", () => {
  const violations: string[] = [];
  for (const [folder, forbidden] of Object.entries(FORBIDDEN)) {
    for (const file of sourceFiles(join(SRC, folder))) {
      for (const target of importsOf(file)) {
        const top = target.split('/')[0]!;
        if (forbidden.includes(top)) violations.push(`${relative(ROOT, file)} imports src/${target}`);
      }
    }
  }
  assert.deepEqual(violations, []);
});

test('the import-rule reader sees static and dynamic relative imports', () => {
  const file = join(SRC, 'cli', 'main.ts');
  assert.ok(
    importsOf(file).some((p) => p.startsWith('cli/')),
    'main.ts imports its command files',
  );
});
