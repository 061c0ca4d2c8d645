// `npm run web:demo [-- --models <folder>] [--port <n>]`: serves the in-browser photo search
// (dist/web/demo) on 127.0.0.1, cross-origin isolated for WebAssembly threads. Checkpoints in
// <folder> (default: the model cache, ~/.cache/clip) are offered at /models/; photos never leave
// the browser.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { cacheDir } from '../src/zoo/cache.js';
import { serveStatic } from './static-server.js';
import { positiveInt } from './text-timing.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const opts = new Command('web-demo')
  .description('Serve the in-browser photo search demo on 127.0.0.1')
  .option(
    '--models <folder>',
    'checkpoints (and bpe_simple_vocab_16e6.txt.gz / vocab.txt) offered at /models/',
    cacheDir(),
  )
  .option('--port <n>', 'port (default: a free one)', positiveInt)
  .addHelpText(
    'after',
    '\nExample: npm run web:demo -- --models ~/.cache/clip   then open the printed URL and load /models/ViT-B-32.pt',
  )
  .parse()
  .opts<{ models: string; port?: number }>();

const web = join(ROOT, 'dist', 'web');
if (!existsSync(join(web, 'demo', 'index.html'))) {
  console.error('clip: dist/web/demo is missing; run npm run build first');
  process.exit(1);
}
const server = await serveStatic({ '/models/': resolve(opts.models), '/': web }, { port: opts.port });
console.log(
  `photo search demo: ${server.origin}/demo/index.html\n` +
    `(models from ${resolve(opts.models)} at /models/; Ctrl-C stops)`,
);
