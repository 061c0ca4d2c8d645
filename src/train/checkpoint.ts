// Training checkpoints, two files written atomically (temporary name, then rename):
//   <path>               the model: a safetensors state dict with canonical OpenAI names, which
//                        load() and readCheckpoint() read like any other checkpoint (the
//                        architecture is inferred from the shapes);
//   <stem>.config.json   the starting model's config file, when it had one (what the shapes cannot
//                        tell: heads, activation, transform), so load() and resuming read it back;
//   <path>.train.safetensors  the optimiser (exp_avg.<name>, exp_avg_sq.<name>) and, in its
//                        metadata, the step and the caller's resume state (schedule, RNG, data position).
// Fine-tuning from any checkpoint load() accepts is `Trainer.create(readCheckpoint(file), ...)`;
// resuming also restores the optimiser and the caller's state.

import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { CheckpointError } from '../errors.js';
import { configPathFor } from '../model-files.js';
import { fromFloat32, toFloat32, type StateDict } from '../tensor.js';
import { readSafetensors, writeSafetensors } from '../weights/safetensors.js';
import type { AdamWState } from './adamw.js';
import type { Trainer } from './trainer.js';

const FORMAT = 'clip-ts-train/1';

export const trainStatePath = (path: string): string => `${path}.train.safetensors`;

function writeAtomically(path: string, write: (temp: string) => void): void {
  const temp = `${path}.tmp-${process.pid}`;
  try {
    write(temp);
    renameSync(temp, path);
  } finally {
    rmSync(temp, { force: true });
  }
}

/**
 * Saves the model and the optimiser; `resume` is any JSON the caller needs back (schedule, RNG,
 * data position); `modelConfig` the starting model's config file (JSON), written beside the model
 * (and a stale one from another run removed when there is none).
 */
export function saveCheckpoint(
  path: string,
  trainer: Trainer,
  resume: Record<string, unknown> = {},
  modelConfig?: unknown,
): void {
  const { state } = trainer.optimizer;
  const optimiser: StateDict = new Map();
  const shapeOf = (name: string): readonly number[] => {
    const w = trainer.weights.get(name);
    if (!w) throw new Error(`optimiser state for "${name}", which the trainer does not train`);
    return w.shape;
  };
  for (const [name, m] of state.expAvg) optimiser.set(`exp_avg.${name}`, fromFloat32(m, shapeOf(name)));
  for (const [name, v] of state.expAvgSq) optimiser.set(`exp_avg_sq.${name}`, fromFloat32(v, shapeOf(name)));
  // The training state first: a model file without its optimiser beside it is still a valid model.
  const step = String(state.step);
  writeAtomically(trainStatePath(path), (temp) =>
    writeSafetensors(temp, optimiser, { format: FORMAT, step, resume: JSON.stringify(resume) }),
  );
  const configPath = configPathFor(path);
  if (modelConfig === undefined) rmSync(configPath, { force: true });
  else writeAtomically(configPath, (temp) => writeFileSync(temp, `${JSON.stringify(modelConfig, null, 2)}\n`));
  writeAtomically(path, (temp) =>
    writeSafetensors(temp, trainer.currentStateDict(), { format: 'pt', producer: 'clip-ts', step }),
  );
}

export interface TrainState {
  optimiser: AdamWState;
  resume: Record<string, unknown>;
}

/** Reads `<path>.train.safetensors` (written by saveCheckpoint). */
export function readTrainState(path: string): TrainState {
  const file = trainStatePath(path);
  if (!existsSync(file))
    throw new CheckpointError(
      file,
      'no training state beside the checkpoint (needed to resume; to fine-tune, start from the model file alone)',
    );
  const { tensors, metadata } = readSafetensors(file);
  if (metadata.format !== FORMAT)
    throw new CheckpointError(file, `metadata "format" is ${JSON.stringify(metadata.format)}, expected "${FORMAT}"`);
  const optimiser: AdamWState = { step: Number(metadata.step), expAvg: new Map(), expAvgSq: new Map() };
  for (const [key, t] of tensors) {
    const [slot, name] = key.startsWith('exp_avg_sq.')
      ? [optimiser.expAvgSq, key.slice(11)]
      : [optimiser.expAvg, key.slice(8)];
    slot.set(name, toFloat32(t));
  }
  return { optimiser, resume: JSON.parse(metadata.resume ?? '{}') as Record<string, unknown> };
}

/** Puts a saved optimiser state into a trainer built from the same checkpoint's model file. */
export function restoreTrainState(trainer: Trainer, state: TrainState): void {
  for (const [name, m] of state.optimiser.expAvg) {
    const w = trainer.weights.get(name);
    if (!w || w.data.length !== m.length)
      throw new CheckpointError(
        name,
        'optimiser state does not match the trained parameters (different model or frozen towers?)',
      );
  }
  trainer.optimizer.state = state.optimiser;
}
