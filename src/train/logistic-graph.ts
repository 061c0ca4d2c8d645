// The logistic-regression objective as an ONNX Runtime graph: the two matrix products per
// evaluation (logits X·Wᵀ and gradient (P − Y)ᵀ·X) are where all the time goes, and ONNX
// Runtime's GEMM does them ~30× faster than a JavaScript loop.

import { at } from '../checked.js';
import { Graph } from '../graph/ir.js';
import { Session } from '../runtime/session.js';

export interface ObjectiveSession {
  /** Mean cross-entropy and its gradient (weights [K, D], intercepts [K]) at float32 weights. */
  evaluate(
    weights: Float32Array,
    intercepts: Float32Array,
  ): Promise<{ loss: number; gradWeights: Float32Array; gradIntercepts: Float32Array }>;
  release(): Promise<void>;
}

export async function objectiveSession(
  x: Float32Array,
  y: ArrayLike<number>,
  dim: number,
  classes: number,
): Promise<ObjectiveSession> {
  const n = y.length;
  const g = new Graph();
  const xs = g.input('x', 'float32', [n, dim]);
  const onehot = g.input('y', 'float32', [n, classes]);
  const w = g.input('w', 'float32', [classes, dim]);
  const b = g.input('b', 'float32', [classes]);
  const z = xs.matmul(w.transpose([1, 0])).add(b);
  const shifted = z.sub(z.max([1]));
  const e = shifted.exp();
  const total = e.sum([1]);
  // mean over rows of log Σ exp(z − max) − (z − max)[label]
  g.output(
    'loss',
    total
      .log()
      .sub(shifted.mul(onehot).sum([1]))
      .mean([0, 1], false),
  );
  const residual = e.div(total).sub(onehot); // ∂CE/∂logits
  g.output('gw', residual.transpose([1, 0]).matmul(xs).div(n));
  g.output('gb', residual.mean([0], false));
  const session = await Session.create(g);
  const y1 = new Float32Array(n * classes);
  for (let i = 0; i < n; i++) y1[i * classes + at(y, i)] = 1;
  const fixed = { x: { data: x, shape: [n, dim] }, y: { data: y1, shape: [n, classes] } };
  return {
    async evaluate(weights, intercepts) {
      const out = await session.run({
        ...fixed,
        w: { data: weights, shape: [classes, dim] },
        b: { data: intercepts, shape: [classes] },
      });
      const output = (name: string) => {
        const tensor = out[name];
        if (!tensor) throw new Error(`the logistic objective graph gave no "${name}"`);
        return tensor.data as Float32Array;
      };
      return { loss: at(output('loss'), 0), gradWeights: output('gw'), gradIntercepts: output('gb') };
    },
    release: () => session.release(),
  };
}
