// Multinomial logistic regression with an L2 penalty, fitted by L-BFGS: the linear probe of the
// CLIP paper (§3.2, App. A.3: scikit-learn's LogisticRegression, L-BFGS, C swept on a validation
// split). Hand-written because no maintained JavaScript library fits a multinomial (softmax)
// model with L-BFGS: ml-logistic-regression is one-vs-rest gradient descent, and the general
// optimisers on npm are unmaintained. The objective is scikit-learn's, divided by C·n:
//   mean cross-entropy + ‖W‖² / (2·C·n)      (the intercepts are not penalised, as in sklearn ≥ 1.1)
// its data term evaluated by ONNX Runtime (logistic-graph.ts), the optimiser in float64 here; it
// stops as sklearn's lbfgs solver does (largest gradient entry ≤ 1e-4, or no progress).

import { at } from '../checked.js';
import { InputError } from '../errors.js';
import { objectiveSession, type ObjectiveSession } from './logistic-graph.js';

export interface LogisticModel {
  classes: number;
  dim: number;
  /** [classes, dim + 1]: each row's weights, then its intercept. */
  weights: Float64Array;
}

export interface FitOptions {
  /** Inverse regularisation strength (scikit-learn's C). */
  C: number;
  maxIterations?: number;
  /** Stop when every gradient entry is at most this (sklearn's tol). */
  tolerance?: number;
  /** Starting weights (a warm start from a nearby C). */
  initial?: Float64Array;
}

export interface FitResult {
  model: LogisticModel;
  iterations: number;
  converged: boolean;
  loss: number;
}

/** Labelled rows: x [n, dim] and the class of each row. */
export interface Examples {
  x: Float32Array;
  y: ArrayLike<number>;
  dim: number;
  classes: number;
}

const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => s + v * at(b, i), 0);
/** y += a·x, in place. */
const axpy = (y: Float64Array, a: number, x: Float64Array) => y.forEach((v, i) => (y[i] = v + a * at(x, i)));
const maxAbs = (a: Float64Array) => {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
};

/** The objective's value and gradient at `w` ([classes, dim + 1], float64), the penalty added here. */
async function objective(
  session: ObjectiveSession,
  w: Float64Array,
  C: number,
  n: number,
  dim: number,
  classes: number,
): Promise<{ f: number; g: Float64Array }> {
  const stride = dim + 1;
  const weights = new Float32Array(classes * dim);
  const intercepts = new Float32Array(classes);
  for (let c = 0; c < classes; c++) {
    weights.set(w.subarray(c * stride, c * stride + dim), c * dim);
    intercepts[c] = at(w, c * stride + dim);
  }
  const { loss, gradWeights, gradIntercepts } = await session.evaluate(weights, intercepts);
  const lambda = 1 / (C * n);
  const g = new Float64Array(w.length);
  let penalty = 0;
  for (let c = 0; c < classes; c++) {
    for (let k = 0; k < dim; k++) {
      const v = at(w, c * stride + k);
      g[c * stride + k] = at(gradWeights, c * dim + k) + lambda * v;
      penalty += v * v;
    }
    g[c * stride + dim] = at(gradIntercepts, c);
  }
  return { f: loss + 0.5 * lambda * penalty, g };
}

/** A training set ready for fits at several C (the data stays loaded in ONNX Runtime). */
export interface LogisticProblem {
  fit(opts: FitOptions): Promise<FitResult>;
  release(): Promise<void>;
}

export async function logisticProblem(data: Examples): Promise<LogisticProblem> {
  const { dim, classes } = data;
  const n = data.y.length;
  if (data.x.length !== n * dim) throw new InputError(`features hold ${data.x.length} values, expected ${n} × ${dim}`);
  const bad = Array.from(data.y).findIndex((l) => !(Number.isInteger(l) && l >= 0 && l < classes));
  if (bad >= 0) throw new InputError(`label ${data.y[bad]} at row ${bad}, expected 0..${classes - 1}`);
  const session = await objectiveSession(data.x, data.y, dim, classes);
  return { fit: (opts) => lbfgs(session, n, dim, classes, opts), release: () => session.release() };
}

/** One fit (the problem is released afterwards). */
export async function fitLogistic(data: Examples, opts: FitOptions): Promise<FitResult> {
  const problem = await logisticProblem(data);
  try {
    return await problem.fit(opts);
  } finally {
    await problem.release();
  }
}

/** L-BFGS (10 corrections, backtracking Armijo line search). */
async function lbfgs(
  session: ObjectiveSession,
  n: number,
  dim: number,
  classes: number,
  opts: FitOptions,
): Promise<FitResult> {
  if (!(opts.C > 0)) throw new InputError(`C must be positive, got ${opts.C}`);
  const maxIterations = opts.maxIterations ?? 1000;
  const tolerance = opts.tolerance ?? 1e-4;
  const size = classes * (dim + 1);
  const evaluate = (w: Float64Array) => objective(session, w, opts.C, n, dim, classes);
  let w = opts.initial ? Float64Array.from(opts.initial) : new Float64Array(size);
  let { f, g } = await evaluate(w);
  const history: { s: Float64Array; y: Float64Array; rho: number }[] = [];
  const memory = 10;
  let iterations = 0;
  let converged = false;
  for (; iterations < maxIterations; iterations++) {
    if (maxAbs(g) <= tolerance) {
      converged = true;
      break;
    }
    // Two-loop recursion: d = -H·g.
    const d = Float64Array.from(g, (v) => -v);
    const alphas: number[] = [];
    for (let h = history.length - 1; h >= 0; h--) {
      const { s, y, rho } = at(history, h);
      const a = rho * dot(s, d);
      alphas[h] = a;
      axpy(d, -a, y);
    }
    const last = history[history.length - 1];
    const gamma = last ? dot(last.s, last.y) / dot(last.y, last.y) : 1 / Math.max(1, Math.sqrt(dot(g, g)));
    d.forEach((v, i) => (d[i] = v * gamma));
    for (let h = 0; h < history.length; h++) {
      const { s, y, rho } = at(history, h);
      axpy(d, at(alphas, h) - rho * dot(y, d), s);
    }
    let slope = dot(g, d);
    if (slope >= 0) {
      // not a descent direction: forget the curvature and go downhill
      history.length = 0;
      d.set(g.map((v) => -v));
      slope = dot(g, d);
    }
    let step = 1;
    const next = new Float64Array(size);
    let trial = { f: Infinity, g };
    for (let tries = 0; tries < 50; tries++) {
      next.set(w);
      axpy(next, step, d);
      trial = await evaluate(next);
      if (trial.f <= f + 1e-4 * step * slope) break;
      step /= 2;
    }
    // No decrease at all: the minimum is reached to the precision the float32 loss resolves.
    if (!(trial.f <= f)) {
      converged = true;
      break;
    }
    const s = Float64Array.from(next, (v, i) => v - at(w, i));
    const y = Float64Array.from(trial.g, (v, i) => v - at(g, i));
    const sy = dot(s, y);
    if (sy > 1e-12) {
      history.push({ s, y, rho: 1 / sy });
      if (history.length > memory) history.shift();
    }
    const decrease = f - trial.f;
    [w, g, f] = [next, trial.g, trial.f];
    if (decrease <= 64 * Number.EPSILON * Math.max(Math.abs(f), 1)) {
      converged = true;
      iterations++;
      break;
    }
  }
  return { model: { classes, dim, weights: w }, iterations, converged, loss: f };
}

/** Class scores (logits) [n, classes] of rows x [n, dim]. */
export function logisticScores(model: LogisticModel, x: Float32Array): Float32Array {
  const { classes, dim, weights } = model;
  const n = x.length / dim;
  const out = new Float32Array(n * classes);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < classes; c++) {
      let s = at(weights, c * (dim + 1) + dim);
      for (let k = 0; k < dim; k++) s += at(weights, c * (dim + 1) + k) * at(x, i * dim + k);
      out[i * classes + c] = s;
    }
  }
  return out;
}
