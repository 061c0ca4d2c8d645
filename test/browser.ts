// Driving Debian's Chromium from tests and benchmarks: a static server on 127.0.0.1 with the
// COOP/COEP headers WebAssembly threads need, and a headless browser (playwright-core, never a
// downloaded browser). Without Chromium, callers skip loudly.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { serveStatic, type StaticServer } from '../bench/static-server.js';

export { serveStatic, type StaticServer } from '../bench/static-server.js';

export const CHROMIUM = process.env.CLIP_CHROMIUM ?? '/usr/bin/chromium';

/** `skip` option for node:test: false when Chromium is installed, else a loud reason. */
export function needsChromium(): false | string {
  if (existsSync(CHROMIUM)) return false;
  const reason = `SKIPPED: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CLIP_CHROMIUM)`;
  console.warn(`\n*** ${reason} ***\n`);
  return reason;
}

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Headless Chromium; `webgpu` swaps --disable-gpu for the SwiftShader WebGPU adapter (correctness only). */
export function launchChromium(options: { webgpu?: boolean } = {}): Promise<Browser> {
  const gpu = options.webgpu
    ? [
        '--enable-unsafe-webgpu',
        '--enable-unsafe-swiftshader',
        '--use-webgpu-adapter=swiftshader',
        '--use-angle=swiftshader',
      ]
    : ['--disable-gpu'];
  return chromium.launch({ executablePath: CHROMIUM, args: [...FLAGS, ...gpu], headless: true });
}

/**
 * A fresh page at the server's root (each page initialises onnxruntime-web once, with its own
 * threads), in the browser's first context: pages share its HTTP cache and Cache API storage.
 */
export async function openPage(browser: Browser, server: StaticServer): Promise<Page> {
  const context = browser.contexts()[0] ?? (await browser.newContext());
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  await page.goto(`${server.origin}/`);
  return page;
}

/** What a browser test file sets up once: files it makes, a server for them, and Chromium. */
export interface BrowserHarness {
  temp: string;
  server: StaticServer;
  browser: Browser;
  /** Closes the browser and the server and removes the temporary folder. */
  close(): Promise<void>;
}

/** A temporary folder filled by `prepare`, served with `mounts(temp)`, and a headless Chromium. */
export async function startHarness(
  prepare: (temp: string) => Promise<void>,
  mounts: (temp: string) => Record<string, string>,
): Promise<BrowserHarness> {
  const temp = mkdtempSync(join(tmpdir(), 'clip-web-'));
  await prepare(temp);
  const server = await serveStatic(mounts(temp));
  const browser = await launchChromium();
  return {
    temp,
    server,
    browser,
    async close() {
      await browser.close();
      await server.close();
      rmSync(temp, { recursive: true, force: true });
    },
  };
}
