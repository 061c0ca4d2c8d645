#!/usr/bin/env node
// Runs the compiled tests (dist/test) in two tiers, so the everyday `npm test` stays fast:
//   unit         (`npm test`)              everything except the tests below, a couple of minutes
//   integration  (`npm run test:integration`) tests that start real Chromium or a real Redis, kill
//                processes mid-run, or train on a real data set: minutes in all. CI runs both tiers.
//   all          both, in one run.
// A file belongs to the integration tier by being listed here, so moving one is a one-line change.
import { existsSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

const INTEGRATION = [
  'web-browser', // Chromium: fixture parity on WASM 1 and 2 threads and WebGPU (SwiftShader)
  'web-bundle', // Chromium: the bundle against Node on self-made models
  'web-demo', // Chromium: the in-browser photo search demo
  'server-browser', // Chromium: the search page against `clip serve`
  'queue-redis', // redis-server: workers killed, Redis restarted, exactly-once shards
  'queue-fixtures', // redis-server: the fixture models through the queue
  'search-resume', // `clip index` SIGKILLed at several points, then resumed
  'demo-fashion', // trains a small CLIP on Debian's Fashion-MNIST
];

const tier = process.argv[2] ?? 'unit';
if (!['unit', 'integration', 'all'].includes(tier)) {
  console.error(`scripts/test.mjs: unknown tier "${tier}" (expected unit, integration or all)`);
  process.exit(2);
}
const dir = join('dist', 'test');
// Only tests whose source still exists: a renamed or deleted test leaves its old output in dist/.
const all = readdirSync(dir).filter((f) => f.endsWith('.test.js') && existsSync(join('test', f.replace(/js$/, 'ts'))));
const missing = INTEGRATION.filter((name) => !all.includes(`${name}.test.js`));
if (missing.length > 0) {
  console.error(`scripts/test.mjs: listed integration tests not found in ${dir}: ${missing.join(', ')}`);
  process.exit(1);
}
const files = all
  .filter((f) => {
    const integration = INTEGRATION.includes(f.slice(0, -'.test.js'.length));
    return tier === 'all' || (tier === 'integration') === integration;
  })
  .map((f) => join(dir, f));
// Most tests wait on child processes or I/O, so one more file than cores keeps both cores busy.
const concurrency = String(availableParallelism() + 1);
const run = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...files], {
  stdio: 'inherit',
});
process.exit(run.status ?? 1);
