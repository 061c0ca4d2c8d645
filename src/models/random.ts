// Random-weight CLIP models of any configuration: the tower builders ask for every weight with
// its shape, so building both graphs once with a filler enumerates the whole state dict without
// a second list of parameter names to keep in sync.

import { fromFloat32, type RawTensor, type StateDict } from '../tensor.js';
import { buildImageGraph, buildTextGraph } from './clip.js';
import type { ClipConfig } from './config.js';

/** Deterministic uniform samples in (0, 1): mulberry32, a small seeded PRNG. */
export function seededUniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
}

/** Deterministic N(0, 1) samples (Box-Muller over seededUniform). */
function gaussian(seed: number): () => number {
  const uniform = seededUniform(seed);
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

/** A float32 state dict for `cfg` with small random weights (norm gains 1, variances 1). */
export function randomStateDict(cfg: ClipConfig, seed = 0): StateDict {
  const normal = gaussian(seed);
  const sd: StateDict = new Map();
  const fill = (key: string, shape: readonly number[]): RawTensor => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    const isNormGain = /(ln_\w+|bn\d|downsample\.1|LayerNorm)\.weight$/.test(key);
    if (key.endsWith('running_var') || isNormGain) data.fill(1);
    else if (!key.endsWith('bias') && !key.endsWith('running_mean'))
      for (let i = 0; i < data.length; i++) data[i] = 0.02 * normal();
    return fromFloat32(data, shape);
  };
  buildImageGraph(sd, cfg, { fill });
  buildTextGraph(sd, cfg, { fill });
  sd.set('logit_scale', fromFloat32(Float32Array.of(Math.log(1 / 0.07)), []));
  return sd;
}
