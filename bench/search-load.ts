// Load on `clip serve`: autocannon, N concurrent clients for a few seconds each on /api/search, on
// loopback, against a server process of its own over an index of synthetic vectors made by the
// real model's identity (random ViT-B/32 weights: the text tower's cost is the real one), clustered as
// in bench/search.ts.
// Two runs: 50 distinct queries (their text features cached after the first request, as instant
// search repeats prefixes), then a new query text on every request (one text encode each).
//   node dist/bench/search-load.js [--photos 10000] [--connections 10] [--seconds 5] [--json]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { load, OFFICIAL_CONFIGS, randomStateDict, writeSafetensors } from '../src/index.js';
import { loadIndexModel } from '../src/search/model.js';
import { buildSyntheticIndex } from './synthetic-index.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const photos = arg('--photos', 10_000);
const connections = arg('--connections', 10);
const seconds = arg('--seconds', 5);
const asJson = args.includes('--json');
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');

const work = mkdtempSync(join(tmpdir(), 'clip-bench-load-'));
const checkpoint = join(work, 'vit-b-32.safetensors');
const vitB32 = OFFICIAL_CONFIGS['ViT-B/32'];
if (!vitB32) throw new Error('ViT-B/32 is not among the official configs');
writeSafetensors(checkpoint, randomStateDict(vitB32, 1));
const bpe =
  process.env.CLIP_BPE_PATH ??
  join(dirname(CLI), '..', '..', '..', '..', 'shared', 'fixtures', 'openai-clip', 'bpe_simple_vocab_16e6.txt.gz');
const model = await loadIndexModel(checkpoint, { bpePath: bpe }, load);
const dbFile = join(work, 'load.db');
await model.clip.model.release();
buildSyntheticIndex(dbFile, photos, { dim: 512, model: model.identity }).db.close();

const server = spawn(process.execPath, [CLI, 'serve', '--db', dbFile, '--port', '0', '--bpe', bpe], {
  stdio: ['ignore', 'ignore', 'pipe'],
});
const url = await new Promise<string>((res, rej) => {
  let err = '';
  server.stderr.on('data', (d: Buffer) => {
    err += d;
    const m = /listening on (\S+)\//.exec(err);
    if (m?.[1]) res(m[1]);
  });
  server.on('exit', () => rej(new Error(`server exited: ${err}`)));
});

const WORDS = ['dog', 'cat', 'beach', 'mountain', 'city', 'night', 'snow', 'bicycle', 'red car', 'birthday cake'];
async function run(label: string, path: (n: number) => string) {
  let n = 0;
  const result = await autocannon({
    url,
    connections,
    duration: seconds,
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: path(n++) }) }],
  });
  return {
    run: label,
    photos,
    connections,
    seconds,
    requests_per_s: Math.round(result.requests.average),
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    errors: result.errors,
    non_2xx: result.non2xx,
    total: result.requests.total,
  };
}

const q = (text: string) => `/api/search?q=${encodeURIComponent(text)}&k=40`;
const cached = (n: number) => q(`a photo of a ${WORDS[n % 10]} ${Math.floor(n / 10) % 5}`);
for (let n = 0; n < 50; n++) await fetch(url + cached(n)); // encodes the 50 texts once
const results = [
  await run('50 distinct queries (cached features)', cached),
  await run('a new query every request (one text encode each)', (n) => q(`a photo of ${WORDS[n % 10]} number ${n}`)),
];
server.kill('SIGTERM');
rmSync(work, { recursive: true, force: true });
for (const r of results)
  console.log(
    asJson
      ? JSON.stringify(r)
      : Object.entries(r)
          .map(([k, v]) => `${k}=${v}`)
          .join('  '),
  );
