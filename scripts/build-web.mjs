// Builds the browser entry (src/web) into dist/web/: clip.bundle.js (self-contained: onnxruntime-web,
// codecs and their .wasm inlined), clip.js (the same ESM module with onnxruntime-web left as an
// import, for apps with their own bundler), ort/ (onnxruntime-web's WebAssembly runtime files) and
// demo/ (the photo search page).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'web');

// Shared modules also hold Node-only functions the browser never calls (file readers beside byte
// readers); their `node:` imports resolve to an empty module, like a package.json "browser": {"fs": false}.
// Node-only packages must never be reached: that would be a real dependency on Node.
const browserOnly = {
  name: 'browser-only',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path, namespace: 'node-builtin' }));
    b.onLoad({ filter: /.*/, namespace: 'node-builtin' }, () => ({ contents: 'module.exports = {};', loader: 'js' }));
    b.onResolve({ filter: /^(sharp|yauzl|yazl|onnxruntime-node|tar-stream)$/ }, (args) => ({
      errors: [{ text: `Node-only package "${args.path}" reached from ${args.importer}` }],
    }));
  },
};

const common = {
  entryPoints: [join(root, 'src/web/index.ts')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  // onnxruntime-web's build that loads its .mjs/.wasm from `wasmPaths` (dist/web/ort/), so its
  // worker threads start from those files rather than from this bundle.
  conditions: ['onnxruntime-web-use-extern-wasm'],
  loader: { '.wasm': 'binary' },
  plugins: [browserOnly],
  legalComments: 'linked',
  logLevel: 'warning',
};

await build({ ...common, outfile: join(out, 'clip.bundle.js'), minify: true, sourcemap: true });
await build({ ...common, outfile: join(out, 'clip.js'), external: ['onnxruntime-web'] });

// The demo (npm run web:demo): its page and worker, which load clip.bundle.js at run time.
const demo = join(root, 'src/web/demo');
await build({
  ...common,
  entryPoints: [join(demo, 'app.ts'), join(demo, 'worker.ts')],
  outdir: join(out, 'demo'),
  minify: true,
});
copyFileSync(join(demo, 'index.html'), join(out, 'demo', 'index.html'));

const ortDist = join(root, 'node_modules', 'onnxruntime-web', 'dist');
mkdirSync(join(out, 'ort'), { recursive: true });
for (const file of ['ort-wasm-simd-threaded.jsep.mjs', 'ort-wasm-simd-threaded.jsep.wasm']) {
  copyFileSync(join(ortDist, file), join(out, 'ort', file));
}
// The loader again as .js, which every static server sends as JavaScript (not all know .mjs);
// load() points onnxruntime-web at this copy by default.
copyFileSync(join(ortDist, 'ort-wasm-simd-threaded.jsep.mjs'), join(out, 'ort', 'ort-wasm-simd-threaded.jsep.js'));
const size = statSync(join(out, 'clip.bundle.js')).size;
console.log(`dist/web/clip.bundle.js: ${(size / 1024).toFixed(0)} KiB`);
