// The model benchmark: encodeImage / encodeText throughput, load time and peak RSS of
// random-weight models of the real sizes, for our implementation ("ours") and, with --compare,
// the PyTorch reference architecture ("pytorch", bench/reference/clip_reference.py run by
// python3) and ONNX Runtime on that script's torch.onnx.export ("ort-export").
//
// Every implementation reads the same fp16 checkpoint (written here, like OpenAI's releases),
// runs float32 with the same thread count, and is timed in turns, one encode each per round, so
// noise from the (shared) machine hits all of them alike.

import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { load, type LoadedClip } from '../src/load.js';
import { OFFICIAL_CONFIGS } from '../src/models/presets.js';
import { randomStateDict } from '../src/models/random.js';
import { toFloat16, type StateDict, type Tensor } from '../src/tensor.js';
import { writeTorchZip } from '../src/weights/torch-writer.js';
import { CAPTIONS } from './captions.js';

export type Impl = 'ours' | 'pytorch' | 'ort-export';
export type Task = 'image' | 'text';
export type Precision = 'fp32' | 'int8';
export const IMPLS: readonly Impl[] = ['ours', 'pytorch', 'ort-export'];

/** One JSON line of output. */
export interface Measurement {
  model: string;
  task: Task | 'first-load' | 'cached-load';
  impl: Impl;
  /** What the model computes in; the checkpoint file itself is fp16. */
  precision: Precision;
  batch: number;
  /** Items per second: batch / median seconds per encode (for loads: 1 / seconds). */
  per_s: number;
  /** Throughput: encodes timed (after one warm-up) and the median and fastest of them. */
  iters?: number;
  median_ms?: number;
  min_ms?: number;
  /** Loads: seconds for load + the first encodeImage of batch 1, and the probe process's peak RSS. */
  seconds?: number;
  peak_rss_mb?: number;
}

export interface ModelBenchOptions {
  /** Also run ours with int8 weight matmuls (precision "int8"). */
  int8?: boolean;
  models: string[];
  tasks: Task[];
  batches: number[];
  threads: number;
  compare: boolean;
  /** Warm-up + one round instead of ≥ 5 rounds and ≥ 8 s per implementation. */
  quick: boolean;
  emit: (m: Measurement) => void;
  log: (line: string) => void;
}

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const REFERENCE_SCRIPT = join(REPO_ROOT, 'bench', 'reference', 'clip_reference.py');
const SHARED_BPE = join(
  process.env.CLIP_SHARED_DIR ?? join(REPO_ROOT, '..', 'shared'),
  'fixtures',
  'openai-clip',
  'bpe_simple_vocab_16e6.txt.gz',
);
const SHARED_PHOTOS = join(dirname(SHARED_BPE), 'images');
const MIN_SECONDS = 8;
const MIN_ROUNDS = 5;

// ---- inputs ----

/** Deterministic pseudo-random floats in [-2, 2) (values do not matter for speed, NaNs would). */
export function randomImages(batch: number, resolution: number): Tensor {
  const data = new Float32Array(batch * 3 * resolution * resolution);
  let s = 12345;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    data[i] = (s / 2 ** 32) * 4 - 2;
  }
  return { data, shape: [batch, 3, resolution, resolution] };
}

/** The first `batch` captions (cycled), tokenized by the model's own tokenizer. */
function captionTokens(tokenize: (texts: readonly string[]) => Tensor<Int32Array>, batch: number): Tensor<Int32Array> {
  return tokenize(Array.from({ length: batch }, (_, i) => CAPTIONS[i % CAPTIONS.length]!));
}

/** A float32 state dict as float16, the dtype of OpenAI's released checkpoints. */
function toHalf(sd: StateDict): StateDict {
  return new Map([...sd].map(([key, t]) => [key, toFloat16(t)]));
}

export async function writeRandomCheckpoint(model: string, path: string): Promise<void> {
  await writeTorchZip(path, toHalf(randomStateDict(OFFICIAL_CONFIGS[model]!, 0)));
}

// ---- implementations ----

interface Timed {
  seconds: number;
  shape: readonly number[];
}

/** One implementation under test: a single encode of `batch` items, timed. */
interface Runner {
  readonly impl: Impl;
  readonly precision: Precision;
  run(task: Task, batch: number): Promise<Timed>;
  close(): Promise<void>;
}

/** Inputs made once per task and batch, outside the timing. */
class Inputs {
  private readonly cache = new Map<string, Tensor<Float32Array | Int32Array>>();
  constructor(
    private readonly resolution: number,
    private readonly tokenize: (texts: readonly string[]) => Tensor<Int32Array>,
  ) {}

  get(task: Task, batch: number): Tensor<Float32Array | Int32Array> {
    const key = `${task}:${batch}`;
    let t = this.cache.get(key);
    if (!t)
      this.cache.set(
        key,
        (t = task === 'image' ? randomImages(batch, this.resolution) : captionTokens(this.tokenize, batch)),
      );
    return t;
  }
}

async function timed(encode: () => Promise<Tensor>): Promise<Timed> {
  const start = performance.now();
  const out = await encode();
  return { seconds: (performance.now() - start) / 1000, shape: out.shape };
}

/** Our library, loaded from the checkpoint file as a user would. */
async function openOurs(
  checkpoint: string,
  threads: number,
  bpePath?: string,
  precision: Precision = 'fp32',
  shared?: Inputs,
  calibrationImages?: Tensor,
): Promise<
  Runner & {
    inputs: Inputs;
    tokenize: (texts: readonly string[]) => Tensor<Int32Array>;
    preprocessBatch: LoadedClip['preprocessBatch'];
  }
> {
  const { model, tokenize, preprocessBatch } = await load(checkpoint, {
    threads,
    bpePath,
    precision,
    spinning: false,
    calibrationImages,
  });
  const inputs = shared ?? new Inputs(model.config.vision.imageResolution, tokenize);
  return {
    impl: 'ours',
    precision,
    inputs,
    tokenize,
    preprocessBatch,
    run: (task, batch) =>
      timed(() =>
        task === 'image'
          ? model.encodeImage(inputs.get(task, batch) as Tensor)
          : model.encodeText(inputs.get(task, batch) as Tensor<Int32Array>),
      ),
    close: () => model.release(),
  };
}

/** The session options src/runtime/session.ts gives ours on CPU, so both run under the same settings. */
function ortOptions(threads: number): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
}

/** ONNX Runtime on the reference's torch.onnx.export files (tokens are int64 there). */
async function openOrtExport(paths: Record<Task, string>, threads: number, inputs: Inputs): Promise<Runner> {
  const sessions = {
    image: await ort.InferenceSession.create(paths.image, ortOptions(threads)),
    text: await ort.InferenceSession.create(paths.text, ortOptions(threads)),
  };
  const feeds = new Map<string, ort.Tensor>();
  const feed = (task: Task, batch: number): ort.Tensor => {
    const key = `${task}:${batch}`;
    let t = feeds.get(key);
    if (!t) {
      const x = inputs.get(task, batch);
      t =
        task === 'image'
          ? new ort.Tensor('float32', x.data as Float32Array, [...x.shape])
          : new ort.Tensor('int64', BigInt64Array.from(x.data, BigInt), [...x.shape]);
      feeds.set(key, t);
    }
    return t;
  };
  return {
    impl: 'ort-export',
    precision: 'fp32',
    run: async (task, batch) => {
      const session = sessions[task];
      const start = performance.now();
      const out = await session.run({ [session.inputNames[0]!]: feed(task, batch) });
      return { seconds: (performance.now() - start) / 1000, shape: out[session.outputNames[0]!]!.dims };
    },
    close: async () => {
      await sessions.image.release();
      await sessions.text.release();
    },
  };
}

/**
 * A Python that can import torch: $CLIP_BENCH_PYTHON, else python3 on the PATH, else Debian's
 * /usr/bin/python3 (python3-torch installs there, and a pyenv or venv python3 may shadow it).
 */
export function findPythonWithTorch(): string | undefined {
  const candidates = process.env.CLIP_BENCH_PYTHON ? [process.env.CLIP_BENCH_PYTHON] : ['python3', '/usr/bin/python3'];
  return candidates.find((python) => spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0);
}

/** clip_reference.py --serve: one JSON command per line in, one JSON reply per line out. */
class PythonReference implements Runner {
  readonly impl = 'pytorch';
  readonly precision = 'fp32';
  private stderr = '';
  private readonly replies: AsyncIterator<string>;

  private constructor(private readonly child: ChildProcessByStdio<Writable, Readable, Readable>) {
    child.stderr.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
    // Writing to a child that died fails with EPIPE; reply() already reports the death with its stderr.
    child.stdin.on('error', (e) => {
      this.stderr += `\n(writing to it: ${e.message})`;
    });
    this.replies = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  }

  /** Starts the script on `checkpoint`; `log` hears which torch and BLAS it runs on. */
  static async start(
    python: string,
    checkpoint: string,
    threads: number,
    log: (line: string) => void,
  ): Promise<PythonReference> {
    // Passive OpenMP waiting, like our sessions' spinning: false, so no implementation's idle threads
    // busy-wait on the cores while the next one runs (the runs alternate).
    const child = spawn(python, [REFERENCE_SCRIPT, checkpoint, '--serve', '--threads', String(threads)], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' },
    });
    const ref = new PythonReference(child);
    const ready = (await ref.reply()) as { torch: string; threads: number; blas: string[] };
    log(`pytorch: torch ${ready.torch}, ${ready.threads} threads, BLAS ${ready.blas.join(', ') || 'unknown'}`);
    if (ready.blas.length && !ready.blas.some((path) => /openblas|mkl|blis/i.test(path))) {
      log(
        'WARNING: PyTorch runs on the reference (netlib) BLAS, so its numbers are far too low: ' +
          'apt-get install libopenblas0-openmp',
      );
    }
    return ref;
  }

  private async reply(): Promise<Record<string, unknown>> {
    const next = await this.replies.next();
    if (next.done) throw new Error(`${REFERENCE_SCRIPT} exited; its stderr ends:\n${this.stderr}`);
    const reply = JSON.parse(next.value) as Record<string, unknown>;
    if ('error' in reply) throw new Error(`${REFERENCE_SCRIPT}: ${String(reply.error)}`);
    return reply;
  }

  async request(cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.child.stdin.write(`${JSON.stringify(cmd)}\n`);
    return this.reply();
  }

  async run(task: Task, batch: number): Promise<Timed> {
    const r = await this.request({ cmd: 'run', task, batch });
    return { seconds: r.seconds as number, shape: r.shape as number[] };
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((done) => this.child.once('exit', done));
    this.child.stdin.end(`${JSON.stringify({ cmd: 'quit' })}\n`);
    await exited;
  }
}

// ---- load time and peak RSS, each in a fresh process ----

export interface LoadResult {
  first_load_s: number;
  cached_load_s: number;
  peak_rss_mb: number;
}

/**
 * Run inside a fresh process (see main.ts --probe-load): load + first encodeImage of batch 1,
 * twice (the second after releasing the first; for ours the first load compiles the towers into
 * a fresh on-disk compiled-model cache and the second reuses them), then one image and one text
 * encode at `batch` so the peak RSS covers inference too.
 */
export async function probeLoad(
  impl: 'ours' | 'ort-export',
  path: string,
  model: string,
  threads: number,
  batch: number,
): Promise<LoadResult> {
  const { vision, text } = OFFICIAL_CONFIGS[model]!;
  const seconds: number[] = [];
  const cacheDir = mkdtempSync(join(tmpdir(), 'clip-bench-compiled-'));
  for (let i = 0; i < 2; i++) {
    const start = performance.now();
    if (impl === 'ours') {
      const { model } = await load(path, { threads, compiledCache: true, cacheDir });
      await model.encodeImage(randomImages(1, vision.imageResolution));
      seconds.push((performance.now() - start) / 1000);
      if (i === 1) {
        await model.encodeImage(randomImages(batch, vision.imageResolution));
        await model.encodeText(syntheticTokens(batch, text.contextLength));
      }
      await model.release();
    } else {
      const session = await ort.InferenceSession.create(join(path, 'image.onnx'), ortOptions(threads));
      const feed = (t: Tensor) => ({ [session.inputNames[0]!]: new ort.Tensor('float32', t.data, [...t.shape]) });
      await session.run(feed(randomImages(1, vision.imageResolution)));
      seconds.push((performance.now() - start) / 1000);
      if (i === 1) {
        await session.run(feed(randomImages(batch, vision.imageResolution)));
        const textSession = await ort.InferenceSession.create(join(path, 'text.onnx'), ortOptions(threads));
        const tokens = syntheticTokens(batch, text.contextLength);
        await textSession.run({
          [textSession.inputNames[0]!]: new ort.Tensor('int64', BigInt64Array.from(tokens.data, BigInt), [
            ...tokens.shape,
          ]),
        });
        await textSession.release();
      }
      await session.release();
    }
  }
  rmSync(cacheDir, { recursive: true, force: true });
  return { first_load_s: seconds[0]!, cached_load_s: seconds[1]!, peak_rss_mb: peakRssMb() };
}

/**
 * This process's peak resident set: VmHWM, the high-water mark of its own memory image, where
 * Linux has it. (getrusage's maxRSS would also count the benchmark process that spawned this
 * probe: Linux carries the parent's size across fork and exec.)
 */
export function peakRssMb(): number {
  const hwm = existsSync('/proc/self/status')
    ? /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))
    : null;
  return hwm ? Number(hwm[1]) / 1024 : process.resourceUsage().maxRSS / 1024;
}

/**
 * Token rows with the end-of-text token (the highest id) at varied positions 2..`longest`:
 * enough for memory probes, and caption-like with a small `longest`.
 */
export function syntheticTokens(batch: number, contextLength: number, longest = contextLength - 1): Tensor<Int32Array> {
  const data = new Int32Array(batch * contextLength);
  for (let i = 0; i < batch; i++) {
    const eot = 2 + ((i * 13) % (longest - 1));
    data[i * contextLength] = 49406;
    for (let j = 1; j < eot; j++) data[i * contextLength + j] = 300 + ((i * 31 + j * 7) % 40000);
    data[i * contextLength + eot] = 49407;
  }
  return { data, shape: [batch, contextLength] };
}

/** Runs a probe command in a child process; its last stdout line is the LoadResult JSON. */
function runProbe(command: string, args: string[]): Promise<LoadResult> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString()).slice(-4000);
    });
    child.on('error', fail);
    child.on('exit', (code) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      if (code === 0 && last.startsWith('{')) done(JSON.parse(last) as LoadResult);
      else fail(new Error(`${command} ${args.join(' ')} exited with ${code}; stderr ends:\n${stderr}`));
    });
  });
}

// ---- the measurement loop ----

/**
 * One warm-up encode per implementation, then rounds of one encode each (the starting
 * implementation rotating) until every implementation has ≥ MIN_ROUNDS encodes and the rounds
 * took ≥ MIN_SECONDS per implementation. Returns each implementation's seconds per encode.
 */
async function measure(runners: Runner[], task: Task, batch: number, quick: boolean): Promise<Map<Runner, number[]>> {
  const shapes = new Map<Runner, string>();
  for (const r of runners) shapes.set(r, (await r.run(task, batch)).shape.join('x'));
  if (new Set(shapes.values()).size > 1) {
    throw new Error(
      `${task} batch ${batch}: output shapes differ: ` +
        [...shapes].map(([r, s]) => `${r.impl} ${r.precision} ${s}`).join(', '),
    );
  }
  const samples = new Map<Runner, number[]>(runners.map((r) => [r, []]));
  const start = performance.now();
  const enough = (round: number) =>
    quick ? round >= 1 : round >= MIN_ROUNDS && (performance.now() - start) / 1000 >= MIN_SECONDS * runners.length;
  for (let round = 0; !enough(round); round++) {
    for (let k = 0; k < runners.length; k++) {
      const r = runners[(round + k) % runners.length]!;
      samples.get(r)!.push((await r.run(task, batch)).seconds);
    }
  }
  return samples;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

// ---- the suite ----

interface ModelContext {
  name: string;
  /** A folder of this model's own, removed afterwards. */
  dir: string;
  /** A Python that imports torch, when comparing. */
  python?: string;
  bpePath?: string;
}

/**
 * Token rows of all the captions (sent to the reference once), or undefined with a message when
 * there is no BPE file.
 */
function captionRows(
  tokenize: (texts: readonly string[]) => Tensor<Int32Array>,
  log: (line: string) => void,
): number[][] | undefined {
  try {
    const rows = captionTokens(tokenize, CAPTIONS.length);
    const width = rows.shape[1]!;
    return Array.from({ length: rows.shape[0]! }, (_, i) => [...rows.data.subarray(i * width, (i + 1) * width)]);
  } catch (e) {
    log(`text skipped: ${(e as Error).message}`);
    return undefined;
  }
}

async function benchModel({ name, dir, python, bpePath }: ModelContext, opts: ModelBenchOptions): Promise<void> {
  const { threads, emit } = opts;
  const log = (line: string) => opts.log(`${name}: ${line}`);
  const checkpoint = join(dir, 'model.pt');
  log('writing a random-weight fp16 checkpoint');
  await writeRandomCheckpoint(name, checkpoint);

  const loadRecord = (impl: Impl, r: LoadResult) => {
    for (const [task, seconds] of [
      ['first-load', r.first_load_s],
      ['cached-load', r.cached_load_s],
    ] as const) {
      emit({
        model: name,
        task,
        impl,
        precision: 'fp32',
        batch: 1,
        per_s: 1 / seconds,
        seconds,
        peak_rss_mb: r.peak_rss_mb,
      });
    }
  };
  const probeArgs = ['--threads', String(threads), '--batch', String(Math.max(...opts.batches))];
  const nodeProbe = (impl: 'ours' | 'ort-export', path: string) =>
    runProbe(process.execPath, [process.argv[1]!, '--probe-load', impl, path, '--models', name, ...probeArgs]);
  log('load probe (ours)');
  loadRecord('ours', await nodeProbe('ours', checkpoint));

  const runners: Runner[] = [];
  try {
    const ours = await openOurs(checkpoint, threads, bpePath);
    runners.push(ours);
    if (opts.int8) {
      // int8 with calibrated convolutions (the image tower's convs run as QLinearConv) when the
      // fixture photos are here to calibrate on; otherwise only the matmuls are int8.
      const photos = existsSync(SHARED_PHOTOS) ? readdirSync(SHARED_PHOTOS).map((f) => join(SHARED_PHOTOS, f)) : [];
      const calibration = photos.length ? (await ours.preprocessBatch(photos)).tensor : undefined;
      log(
        calibration
          ? `int8: convolutions calibrated on ${calibration.shape[0]} fixture photos`
          : `int8: no ${SHARED_PHOTOS}, so convolutions stay fp32`,
      );
      runners.push(await openOurs(checkpoint, threads, bpePath, 'int8', ours.inputs, calibration));
    }
    const tokenRows = opts.tasks.includes('text') ? captionRows(ours.tokenize, log) : undefined;
    const tasks = opts.tasks.filter((t) => t === 'image' || tokenRows);
    if (python) {
      log('load probe (pytorch)');
      loadRecord('pytorch', await runProbe(python, [REFERENCE_SCRIPT, checkpoint, '--load-probe', ...probeArgs]));
      log('starting the PyTorch reference and exporting it to ONNX');
      const reference = await PythonReference.start(python, checkpoint, threads, log);
      runners.push(reference);
      if (tokenRows) await reference.request({ cmd: 'tokens', rows: tokenRows });
      const exportDir = join(dir, 'onnx');
      const { paths } = (await reference.request({ cmd: 'export', dir: exportDir })) as { paths: Record<Task, string> };
      log('load probe (ort-export)');
      loadRecord('ort-export', await nodeProbe('ort-export', exportDir));
      runners.push(await openOrtExport(paths, threads, ours.inputs));
    }
    for (const task of tasks) {
      for (const batch of opts.batches) {
        log(`${task} batch ${batch}`);
        for (const [{ impl, precision }, seconds] of await measure(runners, task, batch, opts.quick)) {
          const mid = median(seconds);
          emit({
            model: name,
            task,
            impl,
            precision,
            batch,
            per_s: batch / mid,
            iters: seconds.length,
            median_ms: mid * 1000,
            min_ms: Math.min(...seconds) * 1000,
          });
        }
      }
    }
  } finally {
    for (const r of runners) await r.close();
  }
}

/** Benchmarks each model in turn; the reference side is skipped, with a message, when no python3 has torch. */
export async function benchModels(opts: ModelBenchOptions): Promise<void> {
  const python = opts.compare ? findPythonWithTorch() : undefined;
  if (opts.compare && !python)
    opts.log(
      '--compare: no python3 here can import torch, so "pytorch" and "ort-export" are skipped ' +
        '(apt-get install python3-torch, or set CLIP_BENCH_PYTHON)',
    );
  // $CLIP_BPE_PATH, else the fixtures' copy, else load()'s default (the model cache).
  const bpePath = process.env.CLIP_BPE_PATH ?? (existsSync(SHARED_BPE) ? SHARED_BPE : undefined);
  for (const name of opts.models) {
    const dir = mkdtempSync(join(tmpdir(), 'clip-bench-'));
    try {
      await benchModel({ name, dir, python, bpePath }, opts);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
