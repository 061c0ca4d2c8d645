// Driving Debian's Chromium from tests and benchmarks: a static server on 127.0.0.1 with the
// COOP/COEP headers WebAssembly threads need, and a headless browser (playwright-core, never a
// downloaded browser). Without Chromium, callers skip loudly.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CLIP_CHROMIUM ?? '/usr/bin/chromium';

/** `skip` option for node:test: false when Chromium is installed, else a loud reason. */
export function needsChromium(): false | string {
  if (existsSync(CHROMIUM)) return false;
  const reason = `SKIPPED: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CLIP_CHROMIUM)`;
  console.warn(`\n*** ${reason} ***\n`);
  return reason;
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json',
  '.html': 'text/html', '.map': 'application/json',
};

export interface StaticServer {
  /** e.g. http://127.0.0.1:12345 */
  origin: string;
  /** Paths requested so far, in order. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * Serves `mounts` (URL prefix → folder) read-only, plus an empty page at `/`, cross-origin
 * isolated (COOP/COEP), so pages get SharedArrayBuffer and WebAssembly threads.
 */
export async function serveStatic(mounts: Record<string, string>): Promise<StaticServer> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url!, 'http://x').pathname);
    requests.push(path);
    const headers = {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin',
      // Cacheable, so a second page compiles onnxruntime-web's 28 MB of WebAssembly from V8's code cache.
      'Cache-Control': 'max-age=600',
    };
    if (path === '/') {
      res.writeHead(200, { ...headers, 'Content-Type': 'text/html' }).end('<!doctype html><meta charset="utf-8"><title>clip-ts</title>');
      return;
    }
    const prefix = Object.keys(mounts).find((p) => path.startsWith(p));
    const root = prefix && resolve(mounts[prefix]!);
    const file = root && normalize(join(root, path.slice(prefix.length)));
    if (!file || !file.startsWith(root) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, headers).end('not found');
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((done) => { server.closeAllConnections(); server.close(() => done()); }),
  };
}

const FLAGS = ['--headless', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Headless Chromium; `webgpu` swaps --disable-gpu for the SwiftShader WebGPU adapter (correctness only). */
export function launchChromium(options: { webgpu?: boolean } = {}): Promise<Browser> {
  const gpu = options.webgpu ? ['--enable-unsafe-webgpu', '--enable-unsafe-swiftshader', '--use-webgpu-adapter=swiftshader', '--use-angle=swiftshader'] : ['--disable-gpu'];
  return chromium.launch({ executablePath: CHROMIUM, args: [...FLAGS, ...gpu], headless: true });
}

/**
 * A fresh page at the server's root (each page initialises onnxruntime-web once, with its own
 * threads), in the browser's first context: pages share its HTTP cache and Cache API storage.
 */
export async function openPage(browser: Browser, server: StaticServer): Promise<Page> {
  const context = browser.contexts()[0] ?? await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  await page.goto(`${server.origin}/`);
  return page;
}
