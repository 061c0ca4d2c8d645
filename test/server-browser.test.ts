// The search page in a real browser (Debian's chromium driven by playwright-core, no download)
// against `clip serve` on 127.0.0.1, with an index of the fixture photos and the fixture checkpoint:
// typing a query puts the brute-force best photo first; dropping an image finds that image first;
// "more like this" and dark mode work; a screenshot goes to docs/ for the README.
// Skips loudly without chromium or the fixtures (test/server-api.test.ts covers the API without them).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser } from 'playwright-core';
import { buildServer } from '../src/server/app.js';
import { cosine, indexWithReference, textFeature } from './search-brute.js';
import { needsFixtures, OPENAI_FIXTURES } from './fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const DOCS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs');

function skipReason(): false | string {
  if (!existsSync(CHROMIUM)) {
    const reason = `SKIPPED: ${CHROMIUM} not found (apt-get install chromium); the API is tested by server-api.test.js`;
    console.warn(`\n*** ${reason} ***\n`);
    return reason;
  }
  return needsFixtures(OPENAI_FIXTURES);
}

const skip = skipReason();
const dir = mkdtempSync(join(tmpdir(), 'clip-browser-'));
let app: FastifyInstance | undefined;
let browser: Browser | undefined;
after(async () => {
  await browser?.close();
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('search page in chromium: query → best photo first, drop an image → that photo first, more like this', {
  skip,
  timeout: 120_000,
}, async () => {
  const model = join(OPENAI_FIXTURES, 'models', 'vit-tiny.safetensors');
  const bpe = join(OPENAI_FIXTURES, 'bpe_simple_vocab_16e6.txt.gz');
  const images = join(OPENAI_FIXTURES, 'images');
  const db = join(dir, 'photos.db');
  const { clip, features } = await indexWithReference(db, images, model, ['--bpe', bpe]);
  const query = 'a photo of a rocket';
  const t = await textFeature(clip, query);
  const best = [...features].map(([p, f]) => ({ p, s: cosine(f, t) })).sort((a, b) => b.s - a.s)[0]!.p;
  await clip.model.release();

  app = await buildServer({ db, thumbnails: join(dir, 'thumbs') });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
  await page.goto(url);
  await page.fill('#q', query);
  await page.waitForSelector('#grid .hit');
  const first = await page.locator('#grid .hit span').first().getAttribute('title');
  assert.equal(first, best, 'the brute-force best photo is first');
  assert.equal(
    await page.locator('#grid .hit').count(),
    features.size,
    'one card per indexed photo (fewer than a page)',
  );
  await page.waitForFunction(
    "[...document.querySelectorAll('#grid img')].every((i) => i.complete && i.naturalWidth > 0)",
  );
  await page.screenshot({ path: join(DOCS, 'search-ui.png') });

  // Drag and drop an image file onto the page.
  const dropped = join(images, 'chelsea.png');
  const bytes = readFileSync(dropped).toString('base64');
  // Page-side code as strings: this file is compiled without the DOM library.
  const transfer = await page.evaluateHandle(`(() => {
    const dt = new DataTransfer();
    const data = Uint8Array.from(atob('${bytes}'), (c) => c.charCodeAt(0));
    dt.items.add(new File([data], 'chelsea.png', { type: 'image/png' }));
    return dt;
  })()`);
  await page.dispatchEvent('body', 'dragenter', { dataTransfer: transfer });
  await page.dispatchEvent('body', 'drop', { dataTransfer: transfer });
  await page.waitForFunction("document.getElementById('status').textContent.startsWith('photos like')");
  await page.waitForSelector('#grid .hit');
  assert.equal(await page.locator('#grid .hit span').first().getAttribute('title'), dropped);
  assert.match((await page.locator('#grid .hit span').first().textContent())!, /^1\.000 /);

  // Viewer and "more like this".
  await page.locator('#grid .hit').first().click();
  await page.waitForSelector('#viewer:not([hidden])');
  await page.click('#similar');
  await page.waitForFunction("document.getElementById('status').textContent.startsWith('more like')");
  await page.waitForSelector('#grid .hit');
  const titles = await page.locator('#grid .hit span').evaluateAll((els) => els.map((e) => e.getAttribute('title')));
  assert.ok(!titles.includes(dropped), 'more like this leaves the photo itself out');

  await page.click('#theme');
  const isDark = "document.documentElement.classList.contains('dark')";
  const dark = await page.evaluate(isDark);
  await page.click('#theme');
  assert.notEqual(await page.evaluate(isDark), dark);
});
