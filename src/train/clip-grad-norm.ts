// Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_ (L2).

import { at } from '../checked.js';

/**
 * torch.nn.utils.clip_grad_norm_: scales all gradients by maxNorm / (‖g‖ + 1e-6) when the global
 * L2 norm exceeds maxNorm; returns the norm.
 */
export function clipGradNorm(grads: Iterable<Float32Array>, maxNorm: number): number {
  const list = [...grads];
  let sq = 0;
  for (const g of list) for (let i = 0; i < g.length; i++) sq += at(g, i) ** 2;
  const norm = Math.sqrt(sq);
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) for (const g of list) for (let i = 0; i < g.length; i++) g[i] = at(g, i) * coef;
  return norm;
}
