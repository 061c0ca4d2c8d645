// `trainClip`: the training loop behind a `clip train` command. Reads a checkpoint (any format
// readCheckpoint understands, any key layout the adapters map to OpenAI names), trains on
// image-caption pairs with AdamW, a warm-up + cosine schedule and the logit_scale clamp, and
// saves checkpoints that load() reads; `resume` continues a run exactly where its last save was.
// Optionally evaluates the current weights every so many steps (evaluate.ts).

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { InputError } from '../errors.js';
import { bpeTokenizerFor, findModelFiles, imageTransformFor, readModel, type ModelFiles } from '../model-files.js';
import { CLIP } from '../inference/clip.js';
import { logitScaleOf } from '../models/clip.js';
import type { ClipConfig } from '../models/config.js';
import { OFFICIAL_CONFIGS } from '../models/presets.js';
import { randomStateDict } from '../models/random.js';
import type { StateDict } from '../tensor.js';
import type { FetchOptions } from '../zoo/fetch.js';
import type { RuntimeOptions } from '../runtime/session.js';
import type { Tokenizer } from '../text/index.js';
import { defaultTokenizer } from '../zoo/tokenizer.js';
import type { AdamWOptions } from './adamw.js';
import { readTrainState, restoreTrainState, saveCheckpoint, trainStatePath } from './checkpoint.js';
import { evaluateClip, readLabelledFolder, type EvalResult } from './evaluate.js';
import { classPromptSamples } from './class-prompts.js';
import {
  epochBatches,
  readCsvSamples,
  readFolderSamples,
  streamBatches,
  webDatasetPairs,
  type CsvOptions,
  type LoaderOptions,
  type LoaderPosition,
  type Sample,
  type SkipCount,
} from './data.js';
import type { Batch } from './trainer.js';
import { Trainer } from './trainer.js';

export interface TrainClipOptions {
  /**
   * Checkpoint file, zoo model name (fine-tuning), or `scratch:<architecture>` (from scratch);
   * the run's own output when `resume` is set.
   */
  model: string;
  /**
   * The starting checkpoint's config file when none is beside it (as load()'s `config`, e.g. for
   * open_clip's epoch_N.pt).
   */
  modelConfig?: string;
  /**
   * Training pairs: a CSV/TSV (open_clip columns), a folder of images with .txt captions, or
   * WebDataset tar shards with the number of samples per epoch (as open_clip's --train-num-samples),
   * or an ImageFolder whose class names fill prompt templates (classPromptSamples).
   */
  data:
    | { csv: string; csvOptions?: CsvOptions }
    | { folder: string }
    | { shards: string[]; samples: number; bufferSize?: number }
    | { folderClasses: string; templates: readonly string[] };
  /** Where checkpoints go (a .safetensors path; the optimiser state is written beside it). */
  output: string;
  batchSize: number;
  epochs: number;
  lr?: number;
  warmup?: number;
  optimizer?: AdamWOptions;
  clipGradNorm?: number;
  freeze?: { image?: boolean; text?: boolean };
  seed?: number;
  /** Save every this many steps (and always at the end). */
  saveEvery?: number;
  /** Continue from `output` and its saved training state. */
  resume?: boolean;
  workers?: number;
  /** Default: the model's BPE tokenizer, as load() gives it (CLIP's merges, named as its config says). */
  tokenizer?: Tokenizer;
  /** The merges file for the default tokenizer, when the model's download or folder brings none. */
  bpePath?: string;
  runtime?: RuntimeOptions;
  /** How a model given by name is downloaded (cache folder, offline, mirror). */
  fetch?: FetchOptions;
  /**
   * Evaluate every `every` steps (and after the last step; only then when `every` is absent):
   * zero-shot top-1 on a labelled folder (<folder>/<label>/<image>) and/or text↔image recall@1
   * and @5 on held-out pairs (a CSV like the training one).
   */
  evaluation?: { every?: number; folder?: string; pairs?: { csv: string; csvOptions?: CsvOptions } };
  onStep?: (info: StepInfo) => void;
  onEval?: (info: { step: number; epoch: number } & EvalResult) => void;
}

export interface StepInfo {
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  /** exp(logit_scale) after this step: the temperature the logits are multiplied by. */
  logitScale: number;
  /** Training pairs per second since the previous step (data loading included, evaluation and saving not). */
  samplesPerSecond: number;
  skipped: number;
  /** Milliseconds of this step's forward, backward and update. */
  ms: number;
}

export interface TrainClipResult {
  steps: number;
  lastLoss: number;
  skipped: number;
}

/**
 * `settings` (absent in runs saved before it existed): what a resumed run must share with the run
 * it continues, so that it continues that run and not another one (epochs may grow).
 */
interface ResumeState {
  epoch: number;
  batch: number;
  seed: number;
  settings?: RunSettings;
}

type RunSettings = Record<string, unknown>;

/** The options a run cannot change when resumed: its data, batching, seed, schedule and optimiser. */
function runSettings(opts: TrainClipOptions, samples: readonly Sample[] | undefined): RunSettings {
  const data = samples
    ? createHash('sha256').update(JSON.stringify(samples)).digest('hex')
    : JSON.stringify('shards' in opts.data ? [opts.data.shards, opts.data.samples] : []);
  return {
    data,
    batchSize: opts.batchSize,
    seed: opts.seed ?? 0,
    lr: opts.lr ?? null,
    warmup: opts.warmup ?? 0,
    optimizer: opts.optimizer ?? null,
    clipGradNorm: opts.clipGradNorm ?? null,
    freeze: { image: Boolean(opts.freeze?.image), text: Boolean(opts.freeze?.text) },
  };
}

/** `resume` asked to continue a run with settings other than the ones it was started with. */
export class ResumeMismatchError extends InputError {
  override name = 'ResumeMismatchError';
  constructor(
    readonly output: string,
    readonly changed: string[],
  ) {
    super(
      `cannot resume ${output}: it was started with different ${changed.join(', ')}; ` +
        'resume with the same settings, or start a new run in another output (or overwrite this one)',
    );
  }
}

function checkSameRun(saved: RunSettings | undefined, now: RunSettings, output: string): void {
  if (!saved) return;
  const changed = Object.keys(now).filter((key) => JSON.stringify(saved[key] ?? null) !== JSON.stringify(now[key]));
  if (changed.length) {
    throw new ResumeMismatchError(
      output,
      changed.map((key) => (key === 'data' ? 'training data' : key)),
    );
  }
}

/** A loss that is NaN or infinite: the weights are ruined from this step on, so nothing more is saved. */
export class NonFiniteLossError extends Error {
  override name = 'NonFiniteLossError';
}

/** `scratch:<architecture>` for random initial weights (e.g. `scratch:ViT-B/32`). */
export const SCRATCH_PREFIX = 'scratch:';

/**
 * The model a run starts from: a checkpoint (file or folder), a model name from the zoo
 * (downloaded into the cache), each opened as load() opens it, with its config file; or
 * `scratch:<name>` of an official architecture (random weights, training from scratch).
 */
async function startingModel(
  model: string,
  configFile: string | undefined,
  fetch: FetchOptions = {},
): Promise<{ stateDict: StateDict; config: ClipConfig; files?: ModelFiles }> {
  if (model.startsWith(SCRATCH_PREFIX) && !existsSync(model)) {
    const config = OFFICIAL_CONFIGS[model.slice(SCRATCH_PREFIX.length)];
    if (!config)
      throw new InputError(
        `"${model}": expected ${SCRATCH_PREFIX}<one of ${Object.keys(OFFICIAL_CONFIGS).join(', ')}>`,
      );
    return { stateDict: randomStateDict(config, 0), config };
  }
  const files = await findModelFiles(model, { ...fetch, ...(configFile !== undefined ? { config: configFile } : {}) });
  return { ...(await readModel(files)), files };
}

export async function trainClip(opts: TrainClipOptions): Promise<TrainClipResult> {
  const data = opts.data;
  const samples =
    'csv' in data
      ? readCsvSamples(data.csv, data.csvOptions)
      : 'folder' in data
        ? readFolderSamples(data.folder)
        : 'folderClasses' in data
          ? classPromptSamples(data.folderClasses, data.templates, opts.seed)
          : undefined;
  const count = samples?.length ?? ('samples' in data ? data.samples : 0);
  const perEpoch = Math.floor(count / opts.batchSize);
  if (perEpoch < 1) throw new InputError(`${count} training pairs make no batch of ${opts.batchSize}`);
  const start = opts.resume ? opts.output : opts.model;
  if (opts.resume && !existsSync(trainStatePath(start)))
    throw new InputError(`cannot resume: ${trainStatePath(start)} does not exist`);
  const settings = runSettings(opts, samples);
  const saved = opts.resume ? readTrainState(start) : undefined;
  checkSameRun((saved?.resume as Partial<ResumeState> | undefined)?.settings, settings, opts.output);
  // A resumed run's output carries the config it was saved with (saveCheckpoint); `modelConfig` is
  // the starting model's.
  const {
    stateDict: sd,
    config: cfg,
    files,
  } = await startingModel(start, opts.resume ? undefined : opts.modelConfig, opts.fetch);
  const trainer = await Trainer.create(sd, cfg, {
    batchSize: opts.batchSize,
    lr: { baseLr: opts.lr ?? 5e-4, warmup: opts.warmup ?? 0, totalSteps: opts.epochs * perEpoch },
    optimizer: opts.optimizer ?? { betas: [0.9, 0.98], eps: 1e-6, weightDecay: 0.2 },
    ...(opts.clipGradNorm !== undefined ? { clipGradNorm: opts.clipGradNorm } : {}),
    ...(opts.freeze ? { freeze: opts.freeze } : {}),
    ...(opts.runtime ? { runtime: opts.runtime } : {}),
  });
  let position: ResumeState = { epoch: 0, batch: 0, seed: opts.seed ?? 0 };
  if (saved) {
    restoreTrainState(trainer, saved);
    position = saved.resume as unknown as ResumeState;
  }
  const tokenizer =
    opts.tokenizer ?? (files ? bpeTokenizerFor(files, { bpePath: opts.bpePath })() : defaultTokenizer(opts.bpePath));
  const skipped: SkipCount = { count: 0 };
  const { size: resolution, ...transform } = files
    ? imageTransformFor(cfg, files)
    : { size: cfg.vision.imageResolution };
  const loader = (seed: number): LoaderOptions => ({
    batchSize: opts.batchSize,
    resolution,
    transform,
    tokenizer,
    contextLength: cfg.text.contextLength,
    seed,
    ...(opts.workers ? { workers: opts.workers } : {}),
  });
  /** An epoch's batches from index `from`; streamed shards are re-read and the first batches dropped. */
  async function* batchesOf(
    epoch: number,
    from: number,
    seed: number,
  ): AsyncGenerator<Batch & { position: LoaderPosition }> {
    if (samples) {
      yield* epochBatches(samples, loader(seed), epoch, from, skipped);
      return;
    }
    const shards = data as { shards: string[]; bufferSize?: number };
    let k = 0;
    for await (const batch of streamBatches(
      webDatasetPairs(
        shards.shards,
        { seed, epoch, ...(shards.bufferSize ? { bufferSize: shards.bufferSize } : {}) },
        skipped,
      ),
      loader(seed),
      skipped,
    )) {
      if (k >= perEpoch) return;
      if (k >= from) yield { ...batch, position: { epoch, batch: k } };
      k++;
    }
  }
  let lastLoss = NaN;
  let lastSaved: number | undefined;
  const save = (next: Omit<ResumeState, 'settings'>) => {
    saveCheckpoint(opts.output, trainer, { ...next, settings }, files?.configJson);
    lastSaved = trainer.step;
  };
  const logitScale = () => Math.exp(trainer.weights.get('logit_scale')?.data[0] ?? logitScaleOf(sd));
  // Evaluation data is read up front, so a wrong path fails before any training.
  const evaluation = opts.evaluation;
  const evalData = evaluation && {
    ...(evaluation.folder ? { labelled: readLabelledFolder(evaluation.folder) } : {}),
    ...(evaluation.pairs ? { pairs: readCsvSamples(evaluation.pairs.csv, evaluation.pairs.csvOptions) } : {}),
  };
  const tokenize = (texts: readonly string[]) =>
    tokenizer.tokenize(texts, { contextLength: cfg.text.contextLength, truncate: true });
  /** The current weights in an inference model, evaluated, then freed. */
  async function evaluate(epoch: number): Promise<void> {
    if (!evalData) return;
    const model = new CLIP(trainer.currentStateDict(), opts.runtime ?? {}, cfg);
    try {
      opts.onEval?.({ step: trainer.step, epoch, ...(await evaluateClip(model, tokenize, evalData, opts.workers)) });
    } finally {
      await model.release();
    }
  }
  try {
    let since = performance.now();
    let epoch = position.epoch;
    for (; epoch < opts.epochs; epoch++) {
      const from = epoch === position.epoch ? position.batch : 0;
      for await (const batch of batchesOf(epoch, from, position.seed)) {
        const t = performance.now();
        const { loss, lr } = await trainer.trainStep(batch);
        const now = performance.now();
        if (!Number.isFinite(loss)) {
          const kept =
            lastSaved !== undefined
              ? `${opts.output} holds the last good weights (step ${lastSaved})`
              : `nothing was saved to ${opts.output}`;
          throw new NonFiniteLossError(
            `the loss is ${loss} at step ${trainer.step} (epoch ${epoch}); training stopped. ` +
              `${kept}; a lower learning rate or gradient clipping usually helps`,
          );
        }
        lastLoss = loss;
        opts.onStep?.({
          step: trainer.step,
          epoch,
          loss,
          lr,
          logitScale: logitScale(),
          samplesPerSecond: (1000 * opts.batchSize) / (now - since),
          skipped: skipped.count,
          ms: now - t,
        });
        const next =
          batch.position.batch + 1 < perEpoch
            ? { epoch, batch: batch.position.batch + 1 }
            : { epoch: epoch + 1, batch: 0 };
        if (opts.saveEvery && trainer.step % opts.saveEvery === 0) save({ ...next, seed: position.seed });
        if (evalData && evaluation.every && trainer.step % evaluation.every === 0) await evaluate(epoch);
        since = performance.now();
      }
    }
    save({ epoch: opts.epochs, batch: 0, seed: position.seed });
    if (evalData && !(evaluation.every && trainer.step % evaluation.every === 0)) await evaluate(epoch - 1);
    return { steps: trainer.step, lastLoss, skipped: skipped.count };
  } finally {
    await trainer.release();
  }
}
