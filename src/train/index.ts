// Training and fine-tuning: the public surface of train/.
export { grad } from '../graph/grad.js';
export { AdamW, openClipDecay, decayAll, type AdamWOptions, type AdamWState } from './adamw.js';
export { clipGradNorm } from './clip-grad-norm.js';
export { cosineLr, type CosineSchedule } from './schedule.js';
export { clipLoss, type ClipLossValues } from './loss.js';
export {
  fitLogistic,
  logisticProblem,
  logisticScores,
  type Examples,
  type FitOptions,
  type FitResult,
  type LogisticModel,
  type LogisticProblem,
} from './logistic.js';
export { buildTrainGraph, buildFeatureGraph, type TrainGraph, type TrainGraphOptions } from './graph.js';
export { Trainer, type TrainerOptions, type Batch, type Gradients } from './trainer.js';
export { saveCheckpoint, readTrainState, restoreTrainState, trainStatePath, type TrainState } from './checkpoint.js';
export {
  readCsvSamples,
  readFolderSamples,
  webDatasetPairs,
  epochBatches,
  streamBatches,
  epochOrder,
  type Sample,
  type Pair,
  type CsvOptions,
  type LoaderOptions,
  type LoaderPosition,
  type SkipCount,
} from './data.js';
export {
  trainClip,
  NonFiniteLossError,
  ResumeMismatchError,
  type TrainClipOptions,
  type TrainClipResult,
  type StepInfo,
} from './run.js';
export {
  evaluateClip,
  zeroShotAccuracy,
  retrievalRecall,
  recallAtK,
  readLabelledFolder,
  type EvalResult,
  type ZeroShotResult,
  type RetrievalResult,
  type Recall,
  type LabelledImage,
  type Tokenize,
} from './evaluate.js';
