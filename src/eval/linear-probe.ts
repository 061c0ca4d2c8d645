// The CLIP paper's linear probe (App. A.3): logistic regression on frozen image features, its
// regularisation chosen on a validation split of the training set by a parametric binary search
// (C at every second decade from 1e-6 to 1e6, then the interval around the best halved until 8
// steps per decade), then refit on the whole training set with the chosen C.

import { at, first } from '../checked.js';
import { fitLogistic, logisticProblem, logisticScores, type Examples, type LogisticModel } from '../train/index.js';

export interface SweepPoint {
  C: number;
  accuracy: number;
  iterations: number;
}

export interface LinearProbeFit {
  model: LogisticModel;
  /** The chosen C; with its validation accuracy and every C tried, when swept. */
  C: number;
  sweep: SweepPoint[];
  trainRows: number;
  validationRows: number;
  iterations: number;
  converged: boolean;
  seconds: number;
}

export interface LinearProbeOptions {
  /** Fix C instead of sweeping it. */
  C?: number;
  /** Share of the training rows held out to choose C (default 0.2). */
  validationFraction?: number;
  maxIterations?: number;
  /** Called after each fit of the sweep. */
  onSweep?: (point: SweepPoint) => void;
}

/** Rows of `data` selected by `keep`. */
function subset(data: Examples, keep: (i: number) => boolean): Examples {
  const rows = [...Array(data.y.length).keys()].filter(keep);
  const x = new Float32Array(rows.length * data.dim);
  rows.forEach((r, i) => x.set(data.x.subarray(r * data.dim, (r + 1) * data.dim), i * data.dim));
  return { x, y: rows.map((r) => at(data.y, r)), dim: data.dim, classes: data.classes };
}

/** Share of rows whose highest logit is their label. */
function logisticAccuracy(model: LogisticModel, data: Examples): number {
  const scores = logisticScores(model, data.x);
  let correct = 0;
  for (let i = 0; i < data.y.length; i++) {
    let best = 0;
    for (let c = 1; c < data.classes; c++)
      if (at(scores, i * data.classes + c) > at(scores, i * data.classes + best)) best = c;
    if (best === data.y[i]) correct++;
  }
  return data.y.length ? correct / data.y.length : 0;
}

export async function fitLinearProbe(train: Examples, opts: LinearProbeOptions = {}): Promise<LinearProbeFit> {
  const started = performance.now();
  const maxIterations = opts.maxIterations ?? 1000;
  const sweep: SweepPoint[] = [];
  let C = opts.C;
  let validationRows = 0;
  if (C === undefined) {
    // Every k-th row is held out: deterministic, and as class-balanced as the data's order
    // (ImageFolder and CSV sets are often sorted by class, which striding samples evenly).
    const every = Math.max(2, Math.round(1 / (opts.validationFraction ?? 0.2)));
    const fitPart = subset(train, (i) => i % every !== 0);
    const validation = subset(train, (i) => i % every === 0);
    validationRows = validation.y.length;
    const tried = new Map<number, { point: SweepPoint; weights: Float64Array }>(); // by log10 C
    const problem = await logisticProblem(fitPart);
    const tryC = async (log10: number) => {
      const key = Math.round(log10 * 1000) / 1000;
      if (tried.has(key)) return;
      // Warm start from the nearest C already fitted.
      const nearest = [...tried.entries()].sort((a, b) => Math.abs(a[0] - key) - Math.abs(b[0] - key))[0];
      const fit = await problem.fit({
        C: 10 ** key,
        maxIterations,
        ...(nearest ? { initial: nearest[1].weights } : {}),
      });
      const point = { C: 10 ** key, accuracy: logisticAccuracy(fit.model, validation), iterations: fit.iterations };
      tried.set(key, { point, weights: fit.model.weights });
      sweep.push(point);
      opts.onSweep?.(point);
    };
    // Best validation accuracy; ties go to the stronger regularisation (smaller C).
    const best = () =>
      first([...tried.entries()].sort((a, b) => b[1].point.accuracy - a[1].point.accuracy || a[0] - b[0]))[0];
    try {
      for (let e = -6; e <= 6; e += 2) await tryC(e);
      for (let step = 1; step >= 0.125; step /= 2) {
        const centre = best();
        await tryC(centre - step);
        await tryC(centre + step);
      }
    } finally {
      await problem.release();
    }
    C = 10 ** best();
  }
  const fit = await fitLogistic(train, { C, maxIterations });
  return {
    model: fit.model,
    C,
    sweep,
    trainRows: train.y.length,
    validationRows,
    iterations: fit.iterations,
    converged: fit.converged,
    seconds: (performance.now() - started) / 1000,
  };
}
