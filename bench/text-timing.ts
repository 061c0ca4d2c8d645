// What the tokenizer throughput benches (bench/tokenize.ts, bench/wordpiece.ts) share: timing a
// tokenize function over captions, the report's rates and rows, and running the Python reference.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import type { Tensor } from '../src/tensor.js';

/** Captions per tokenize call, on both sides. */
export const BATCH = 100;
/** Captions tokenized once, untimed, before the timed passes. */
export const WARMUP = 1000;
/** Width of the first column of the text report. */
export const LABEL = 20;

/** Wall and CPU seconds of one timed pass over the captions. */
export interface Pass {
  wall: number;
  cpu: number;
}
/** One timed side of the report. */
export interface Rates {
  textsPerSecond: number;
  cpuMicrosPerText: number;
}

/** commander argument parser for --captions, --rounds and the like. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return n;
}

/** The command-line options both benches take. */
export interface TextBenchOptions {
  json?: boolean;
  captions: number;
  rounds: number;
  python?: string;
  pythonpath?: string;
}

/**
 * Parses the command line of bench `name`: the shared options plus `--<input> <path>`, the
 * vocabulary file; `pythonPackage` is what the reference needs pip-installed.
 */
export function parseTextBenchOptions<K extends string>(
  name: string,
  input: { option: K; description: string },
  pythonPackage: string,
): TextBenchOptions & { [key in K]?: string } {
  return new Command(name)
    .option('--json', 'print one JSON line instead of text')
    .option(`--${input.option} <path>`, input.description)
    .option('--captions <n>', 'number of captions', positiveInt, 10_000)
    .option('--rounds <n>', 'timed passes per side (the median is reported)', positiveInt, 3)
    .option('--python <executable>', 'Python for the reference (default: $PYTHON, else /usr/bin/python3 or python3)')
    .option(
      '--pythonpath <dir>',
      `put in front of PYTHONPATH, e.g. where ${pythonPackage} was pip-installed (default: $CLIP_BENCH_PYTHONPATH)`,
    )
    .parse()
    .opts<TextBenchOptions & { [key in K]?: string }>();
}

// ---- ours ----

/**
 * Warms `tokenize` up on `warmup`, then times `rounds` passes over `captions` in batches of
 * BATCH, as wall and CPU time; the rows are those of the last pass.
 */
export function timeOurs(
  tokenize: (texts: string[]) => Tensor<Int32Array>,
  captions: string[],
  warmup: string[],
  rounds: number,
): { passes: Pass[]; rows: Int32Array[] } {
  for (let s = 0; s < warmup.length; s += BATCH) tokenize(warmup.slice(s, s + BATCH));
  const passes: Pass[] = [];
  let rows: Int32Array[] = [];
  for (let round = 0; round < rounds; round++) {
    rows = [];
    const wall = performance.now();
    const cpu = process.cpuUsage();
    for (let s = 0; s < captions.length; s += BATCH) {
      const { data, shape } = tokenize(captions.slice(s, s + BATCH));
      for (let r = 0; r < shape[0]!; r++) rows.push(data.subarray(r * shape[1]!, (r + 1) * shape[1]!));
    }
    const used = process.cpuUsage(cpu);
    passes.push({ wall: (performance.now() - wall) / 1000, cpu: (used.user + used.system) / 1e6 });
  }
  return { passes, rows };
}

// ---- the Python reference ----

/** A Python executable and the environment to run it in. */
export interface PythonCommand {
  executable: string;
  env: NodeJS.ProcessEnv;
}

/**
 * The Pythons to try, in order: `given` alone, else Debian's /usr/bin/python3 (where apt's
 * python3-* packages install) then python3 on the PATH; `pythonPath` goes in front of PYTHONPATH.
 */
export function pythonCandidates(pythonPath: string | undefined, given: string | undefined): PythonCommand[] {
  const env = { ...process.env, PYTHONPATH: [pythonPath, process.env.PYTHONPATH].filter(Boolean).join(':') };
  return (given !== undefined ? [given] : ['/usr/bin/python3', 'python3']).map((executable) => ({ executable, env }));
}

/** Runs `script` with `args` and parses the JSON it prints, or returns why it failed. */
export function runPythonJson<T>(python: PythonCommand, script: string, args: string[]): T | string {
  const run = spawnSync(python.executable, ['-c', script, ...args], {
    encoding: 'utf8',
    env: python.env,
    maxBuffer: 1 << 30,
  });
  if (run.status !== 0) return `the Python reference failed: ${run.stderr.trim().split('\n').at(-1)}`;
  return JSON.parse(run.stdout) as T;
}

/** Runs `use` with the captions and warm-up written to a temporary JSON file for the Python side. */
export function withCaptionsFile<T>(captions: string[], warmup: string[], use: (file: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'clip-bench-captions-'));
  try {
    const file = join(dir, 'captions.json');
    writeFileSync(file, JSON.stringify({ captions, warmup }));
    return use(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- report ----

/** The median pass by wall time and, separately, by CPU time. */
export function medianPass(passes: readonly Pass[]): Pass {
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  return { wall: median(passes.map((p) => p.wall)), cpu: median(passes.map((p) => p.cpu)) };
}

/** texts/s from the median wall time, CPU microseconds per text from the median CPU time. */
export function rates(passes: readonly Pass[], texts: number): Rates {
  const { wall, cpu } = medianPass(passes);
  return { textsPerSecond: Math.round(texts / wall), cpuMicrosPerText: Number(((cpu / texts) * 1e6).toFixed(2)) };
}

/** How many times faster ours is than the reference, by wall time and by CPU time. */
export function speedup(ours: Rates, reference: Rates): { wall: number; cpu: number } {
  return {
    wall: Number((ours.textsPerSecond / reference.textsPerSecond).toFixed(2)),
    cpu: Number((reference.cpuMicrosPerText / ours.cpuMicrosPerText).toFixed(2)),
  };
}

/** Indices of the rows of ours that differ from the reference's. */
export function differingRows(ours: readonly Int32Array[], reference: readonly number[][]): number[] {
  return ours.map((_, i) => i).filter((i) => !ours[i]!.every((v, j) => v === reference[i]![j]));
}

/** The column headings of the text report, over the columns `row` fills. */
export function header(): string {
  return `  ${''.padEnd(LABEL)} ${'texts/s'.padStart(9)}  ${'CPU µs/text'.padStart(11)}`;
}

/** The numbers of one side, under `header`. */
export function row(r: Rates): string {
  return `${r.textsPerSecond.toLocaleString('en-US').padStart(9)}  ${r.cpuMicrosPerText.toFixed(1).padStart(11)}`;
}
