// Bundles the web page (src/server/ui) into dist/ui with esbuild: one script, one stylesheet and
// the HTML, nothing fetched from elsewhere at run time. Run by `npm run build` after tsc.
import { copyFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const source = fileURLToPath(new URL('../../../src/server/ui/', import.meta.url));
const out = fileURLToPath(new URL('../../ui/', import.meta.url));
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [`${source}app.ts`],
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  outfile: `${out}app.js`,
  logLevel: 'warning',
});
copyFileSync(`${source}index.html`, `${out}index.html`);
