// `npm run bench`: benchmarks, never part of `npm test`. The models suite is bench/models.ts;
// the tokenizer and preprocessing suites are their own scripts, run here as child processes.
//   node dist/bench/main.js [--suite models|tokenize|preprocess|search|browser|all] [--compare] [--json]
//     [--models ViT-B/32,ViT-B/16,RN50] [--tasks image,text] [--batches 1,32] [--threads 2] [--quick]

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { OFFICIAL_CONFIGS } from '../src/models/presets.js';
import { machineLine } from './machine.js';
import { benchModels, IMPLS, probeLoad, type Impl, type Measurement, type Task } from './models.js';
import { positiveInt } from './text-timing.js';

// `search` (bench/search.ts: 100k and 1M vectors, minutes and GBs of disk) runs only when asked for.
const SUITES = ['models', 'tokenize', 'preprocess', 'search', 'browser', 'all'] as const;

function list<T extends string>(allowed: readonly T[]) {
  return (value: string): T[] => {
    const items = value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const bad = items.filter((s) => !allowed.includes(s as T));
    if (bad.length || !items.length)
      throw new InvalidArgumentError(`expected a comma-separated list of ${allowed.join(', ')}; got "${value}"`);
    return items as T[];
  };
}

const program = new Command('bench')
  .description('Benchmarks of CLIP for TypeScript (random weights of the real sizes)')
  .addOption(new Option('--suite <suite>', 'what to benchmark').choices(SUITES).default('models'))
  .option(
    '--compare',
    'also run the PyTorch reference (python3-torch) and ONNX Runtime on its torch.onnx.export, alternating with ours',
  )
  .option('--json', 'print JSON lines, one per measurement, instead of tables')
  .option('--models <names>', 'comma-separated model names', list(Object.keys(OFFICIAL_CONFIGS)), [
    'ViT-B/32',
    'ViT-B/16',
    'RN50',
  ])
  .option('--tasks <tasks>', 'image,text', list<Task>(['image', 'text']), ['image', 'text'] as Task[])
  .option('--batches <sizes>', 'comma-separated batch sizes', (v) => v.split(',').map(positiveInt), [1, 32])
  .option('--threads <n>', 'intra-op threads for every implementation', positiveInt, 2)
  .option('--quick', 'one warm-up and one timed encode per measurement (a smoke run)')
  .option('--no-int8', 'skip our int8 precision (on by default: impl "ours", precision "int8")')
  // Internal: load-time probe in a fresh process, started by bench/models.ts.
  .addOption(new Option('--probe-load <implAndPath...>').hideHelp())
  .addOption(new Option('--batch <n>').argParser(positiveInt).default(32).hideHelp());

interface Options {
  suite: (typeof SUITES)[number];
  compare?: boolean;
  json?: boolean;
  models: string[];
  tasks: Task[];
  batches: number[];
  threads: number;
  quick?: boolean;
  int8?: boolean;
  probeLoad?: string[];
  batch: number;
}

const fmt = (x: number | undefined, digits = 1) => (x === undefined ? '—' : x.toFixed(digits));

/** Columns before `textColumns` are left-aligned labels, the rest right-aligned numbers. */
function table(header: string[], rows: string[][], textColumns: number): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < textColumns ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Throughput per model, task and batch with our ratio to each other implementation; then loads. */
function printTables(records: Measurement[], threads: number): void {
  const find = (m: string, task: string, batch: number, impl: Impl, precision = 'fp32') =>
    records.find(
      (r) => r.model === m && r.task === task && r.batch === batch && r.impl === impl && r.precision === precision,
    );
  const hasInt8 = records.some((r) => r.precision === 'int8');
  const keys = [
    ...new Set(
      records.filter((r) => r.task === 'image' || r.task === 'text').map((r) => `${r.model}|${r.task}|${r.batch}`),
    ),
  ];
  const others = IMPLS.filter((i) => i !== 'ours' && records.some((r) => r.impl === i));
  const rows = keys.map((key) => {
    const [model, task, b] = key.split('|') as [string, string, string];
    const per = (impl: Impl) => find(model, task, Number(b), impl)?.per_s;
    const ours = per('ours');
    const int8 = find(model, task, Number(b), 'ours', 'int8')?.per_s;
    return [
      model,
      task,
      b,
      ...['ours', ...others].map((i) => fmt(per(i as Impl))),
      ...others.map((i) => (ours && per(i) ? `${(ours / per(i)!).toFixed(2)}×` : '—')),
      ...(hasInt8 ? [fmt(int8), ...others.map((i) => (int8 && per(i) ? `${(int8 / per(i)!).toFixed(2)}×` : '—'))] : []),
    ];
  });
  console.log(
    `\nThroughput, items/s (batch / median seconds per encode), ${threads} threads; all fp32 except "ours int8"`,
  );
  console.log(
    table(
      [
        'model',
        'task',
        'batch',
        'ours',
        ...others,
        ...others.map((i) => `ours÷${i}`),
        ...(hasInt8 ? ['ours int8', ...others.map((i) => `int8÷${i}`)] : []),
      ],
      rows,
      2,
    ),
  );

  const loads = [
    ...new Set(
      records.filter((r) => r.task === 'first-load' && r.precision === 'fp32').map((r) => `${r.model}|${r.impl}`),
    ),
  ].map((key) => {
    const [model, impl] = key.split('|') as [string, Impl];
    const first = records.find((r) => r.model === model && r.impl === impl && r.task === 'first-load')!;
    const cached = records.find((r) => r.model === model && r.impl === impl && r.task === 'cached-load');
    return [model, impl, fmt(first.seconds, 2), fmt(cached?.seconds, 2), fmt(first.peak_rss_mb, 0)];
  });
  if (!loads.length) return;
  console.log('\nLoad (fp16 checkpoint → first encodeImage of batch 1), each implementation in a fresh process;');
  console.log('"cached" = a second load of the same file in that process: ours from its on-disk compiled-model cache,');
  console.log('the others as they are (torch.load again; ONNX Runtime on the same export).');
  console.log('Peak RSS of that process after the loads and one image + text encode at the largest batch.');
  console.log(table(['model', 'impl', 'first-load s', 'cached-load s', 'peak RSS MB'], loads, 2));
}

/** bench/<name>.js beside this file, run with our stdout; false when it has not been written yet. */
function runScript(name: string, json: boolean): void {
  const script = join(dirname(fileURLToPath(import.meta.url)), `${name}.js`);
  if (!existsSync(script)) {
    console.error(`--suite ${name}: ${script} not found (bench/${name}.ts not built yet); skipped`);
    return;
  }
  const result = spawnSync(process.execPath, [script, ...(json ? ['--json'] : [])], { stdio: 'inherit' });
  if (result.status !== 0) process.exitCode = 1;
}

async function main(): Promise<void> {
  const opts = program.parse().opts<Options>();
  if (opts.probeLoad) {
    const [impl, path] = opts.probeLoad as ['ours' | 'ort-export', string];
    console.log(JSON.stringify(await probeLoad(impl, path, opts.models[0]!, opts.threads, opts.batch)));
    return;
  }
  const json = Boolean(opts.json);
  // Tables go to stdout with the machine line on top; JSON lines stay measurements only.
  (json ? console.error : console.log)(`Machine: ${machineLine()}`);
  if (opts.suite === 'models' || opts.suite === 'all') {
    const records: Measurement[] = [];
    await benchModels({
      models: opts.models,
      tasks: opts.tasks,
      batches: opts.batches,
      threads: opts.threads,
      compare: Boolean(opts.compare),
      quick: Boolean(opts.quick),
      int8: opts.int8 !== false,
      log: (line) => console.error(`[${(performance.now() / 1000).toFixed(0).padStart(4)} s] ${line}`),
      emit: (m) => {
        records.push(m);
        if (json) console.log(JSON.stringify(m));
      },
    });
    if (!json) printTables(records, opts.threads);
  }
  if (opts.suite === 'tokenize' || opts.suite === 'all') runScript('tokenize', json);
  if (opts.suite === 'preprocess' || opts.suite === 'all') runScript('preprocess', json);
  if (opts.suite === 'search') runScript('search', json);
  if (opts.suite === 'browser' || opts.suite === 'all') runScript('browser', json);
}

await main();
