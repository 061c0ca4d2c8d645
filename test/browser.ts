// Driving Debian's Chromium from tests and benchmarks: a static server on 127.0.0.1 with the
// COOP/COEP headers WebAssembly threads need, and a headless browser (playwright-core, never a
// downloaded browser). Without Chromium, callers skip loudly.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { StaticServer } from '../bench/static-server.js';

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
