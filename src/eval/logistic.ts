// Multinomial logistic regression with an L2 penalty, fitted by L-BFGS: the linear probe of the
// CLIP paper (§3.2, App. A.3: scikit-learn's LogisticRegression, L-BFGS, C swept on a validation
// split). Hand-written because no maintained JavaScript library fits a multinomial (softmax)
// model with L-BFGS: ml-logistic-regression is one-vs-rest gradient descent, and the general
// optimisers on npm are unmaintained. The objective is scikit-learn's, divided by C·n:
//   mean cross-entropy + ‖W‖² / (2·C·n)      (the intercepts are not penalised, as in sklearn ≥ 1.1)
// and it stops as sklearn's lbfgs solver does (largest gradient entry ≤ 1e-4, or no progress).

import { InputError } from '../errors.js';

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

export interface FitResult { model: LogisticModel; iterations: number; converged: boolean; loss: number }

/** Labelled rows: x [n, dim] and the class of each row. */
export interface Examples { x: Float32Array; y: ArrayLike<number>; dim: number; classes: number }

/** x·w over `dim` entries from the given offsets, four products at a time (the probe's hot loop). */
function rowDot(x: Float32Array, xo: number, w: Float64Array, wo: number, dim: number): number {
  let [s0, s1, s2, s3] = [0, 0, 0, 0];
  let k = 0;
  for (; k + 3 < dim; k += 4) {
    s0 += w[wo + k]! * x[xo + k]!;
    s1 += w[wo + k + 1]! * x[xo + k + 1]!;
    s2 += w[wo + k + 2]! * x[xo + k + 2]!;
    s3 += w[wo + k + 3]! * x[xo + k + 3]!;
  }
  for (; k < dim; k++) s0 += w[wo + k]! * x[xo + k]!;
  return s0 + s1 + s2 + s3;
}

/** Loss and gradient of the objective at `w` (gradient written into `grad`). */
function objective({ x, y, dim, classes }: Examples, w: Float64Array, C: number, grad: Float64Array): number {
  const n = y.length;
  const stride = dim + 1;
  const z = new Float64Array(classes);
  grad.fill(0);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const row = i * dim;
    let max = -Infinity;
    for (let c = 0; c < classes; c++) {
      const s = w[c * stride + dim]! + rowDot(x, row, w, c * stride, dim);
      z[c] = s;
      if (s > max) max = s;
    }
    let sum = 0;
    for (let c = 0; c < classes; c++) { z[c] = Math.exp(z[c]! - max); sum += z[c]!; }
    const label = y[i]!;
    loss += Math.log(sum) - Math.log(z[label]!);
    for (let c = 0; c < classes; c++) {
      const r = z[c]! / sum - (c === label ? 1 : 0); // ∂CE/∂logit
      const gc = c * stride;
      for (let k = 0; k < dim; k++) grad[gc + k]! += r * x[row + k]!;
      grad[gc + dim]! += r;
    }
  }
  const lambda = 1 / (C * n);
  let penalty = 0;
  for (let c = 0; c < classes; c++) {
    for (let k = 0; k < stride; k++) {
      const j = c * stride + k;
      grad[j] = grad[j]! / n + (k < dim ? lambda * w[j]! : 0);
      if (k < dim) penalty += w[j]! * w[j]!;
    }
  }
  return loss / n + 0.5 * lambda * penalty;
}

const dot = (a: Float64Array, b: Float64Array) => { let s = 0; for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!; return s; };
const maxAbs = (a: Float64Array) => { let m = 0; for (const v of a) m = Math.max(m, Math.abs(v)); return m; };

/** L-BFGS (10 corrections, backtracking Armijo line search) on the objective above. */
export function fitLogistic(data: Examples, opts: FitOptions): FitResult {
  const { dim, classes } = data;
  if (data.x.length !== data.y.length * dim) throw new InputError(`features hold ${data.x.length} values, expected ${data.y.length} × ${dim}`);
  if (!(opts.C > 0)) throw new InputError(`C must be positive, got ${opts.C}`);
  const maxIterations = opts.maxIterations ?? 1000;
  const tolerance = opts.tolerance ?? 1e-4;
  const size = classes * (dim + 1);
  let w = opts.initial ? Float64Array.from(opts.initial) : new Float64Array(size);
  let g = new Float64Array(size);
  let f = objective(data, w, opts.C, g);
  const history: { s: Float64Array; y: Float64Array; rho: number }[] = [];
  const memory = 10;
  let iterations = 0;
  let converged = false;
  for (; iterations < maxIterations; iterations++) {
    if (maxAbs(g) <= tolerance) { converged = true; break; }
    // Two-loop recursion: d = -H·g.
    const d = Float64Array.from(g, (v) => -v);
    const alphas: number[] = [];
    for (let h = history.length - 1; h >= 0; h--) {
      const { s, y, rho } = history[h]!;
      const a = rho * dot(s, d);
      alphas[h] = a;
      for (let i = 0; i < size; i++) d[i]! -= a * y[i]!;
    }
    const last = history[history.length - 1];
    const gamma = last ? dot(last.s, last.y) / dot(last.y, last.y) : 1 / Math.max(1, Math.sqrt(dot(g, g)));
    for (let i = 0; i < size; i++) d[i]! *= gamma;
    for (let h = 0; h < history.length; h++) {
      const { s, y, rho } = history[h]!;
      const b = rho * dot(y, d);
      for (let i = 0; i < size; i++) d[i]! += s[i]! * (alphas[h]! - b);
    }
    let slope = dot(g, d);
    if (slope >= 0) { // not a descent direction: forget the curvature and go downhill
      history.length = 0;
      for (let i = 0; i < size; i++) d[i] = -g[i]!;
      slope = dot(g, d);
    }
    let step = 1;
    const next = new Float64Array(size);
    const nextGrad = new Float64Array(size);
    let fNext = Infinity;
    for (let tries = 0; tries < 50; tries++) {
      for (let i = 0; i < size; i++) next[i] = w[i]! + step * d[i]!;
      fNext = objective(data, next, opts.C, nextGrad);
      if (fNext <= f + 1e-4 * step * slope) break;
      step /= 2;
    }
    if (!(fNext <= f)) { converged = true; break; } // no decrease possible at float precision
    const s = Float64Array.from(next, (v, i) => v - w[i]!);
    const y = Float64Array.from(nextGrad, (v, i) => v - g[i]!);
    const sy = dot(s, y);
    if (sy > 1e-12) { history.push({ s, y, rho: 1 / sy }); if (history.length > memory) history.shift(); }
    const decrease = f - fNext;
    [w, g, f] = [next, nextGrad, fNext];
    if (decrease <= 64 * Number.EPSILON * Math.max(Math.abs(f), 1)) { converged = true; iterations++; break; }
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
      let s = weights[c * (dim + 1) + dim]!;
      for (let k = 0; k < dim; k++) s += weights[c * (dim + 1) + k]! * x[i * dim + k]!;
      out[i * classes + c] = s;
    }
  }
  return out;
}
