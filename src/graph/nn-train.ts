// Training-mode forms of layers whose behaviour depends on the mode (only BatchNorm in CLIP).
// The eval forms in nn.ts are untouched; model builders pick one with a `training` flag.

import type { Graph, Value } from './ir.js';
import type { BatchNormParams } from './nn.js';

/** A BatchNorm buffer and the value it takes after this forward pass. */
export interface RunningStatUpdate {
  buffer: Value;
  updated: Value;
}

const updates = new WeakMap<Graph, RunningStatUpdate[]>();

/** The running-statistics updates recorded while building `graph` (train-mode BatchNorm layers). */
export function runningStatUpdates(graph: Graph): readonly RunningStatUpdate[] {
  return updates.get(graph) ?? [];
}

/**
 * torch.nn.BatchNorm2d in train mode: normalises with the batch mean and the biased batch
 * variance over (N, H, W), and records running_mean/var ← (1 - momentum)·old + momentum·batch
 * with the unbiased variance (× n / (n - 1)), as torch does. The batch size must be fixed.
 */
export function batchNorm2dTrain(x: Value, p: BatchNormParams, eps = 1e-5, momentum = 0.1): Value {
  const channels = p.weight.dim(0);
  const count = x.dim(0) * x.dim(2) * x.dim(3);
  const mean = x.mean([0, 2, 3]);
  const centred = x.sub(mean);
  const variance = centred.pow(2).mean([0, 2, 3]);
  const y = centred
    .div(variance.add(eps).sqrt())
    .mul(p.weight.reshape([channels, 1, 1]))
    .add(p.bias.reshape([channels, 1, 1]));
  const list = updates.get(x.graph) ?? [];
  updates.set(x.graph, list);
  list.push(
    { buffer: p.runningMean, updated: p.runningMean.mul(1 - momentum).add(mean.reshape([channels]).mul(momentum)) },
    {
      buffer: p.runningVar,
      updated: p.runningVar.mul(1 - momentum).add(variance.reshape([channels]).mul((momentum * count) / (count - 1))),
    },
  );
  return y;
}
