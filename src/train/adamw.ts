// AdamW (decoupled weight decay) over named float32 arrays, with torch 1.13's arithmetic order
// (torch.optim.AdamW, single-tensor path), every operation rounded to float32 as torch does, so
// one step reproduces the reference bit for bit up to fused-multiply-add differences.
// State lives in typed arrays beside the weights. Measured against the same update as an ONNX
// Runtime graph over flat [n] vectors (3.4M parameters, 2 shared cores): 155-400 ms here vs
// 170-440 ms there, no faster, since the update is memory-bound and the graph adds copies in and
// out; here the float32 rounding order is also explicit.

export interface AdamWOptions {
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /** Which parameters get weight decay; default `openClipDecay`. */
  decay?: (name: string, shape: readonly number[]) => boolean;
}

/**
 * open_clip's rule: no decay on gains, biases, 1-d embeddings and logit_scale, i.e. on any
 * parameter with fewer than 2 dims or whose name contains "bn", "ln", "bias" or "logit_scale".
 */
export function openClipDecay(name: string, shape: readonly number[]): boolean {
  return !(shape.length < 2 || /bn|ln|bias|logit_scale/.test(name));
}

/** Decay on every parameter (plain torch.optim.AdamW over model.parameters()). */
export const decayAll = (): boolean => true;

const f = Math.fround;

export interface AdamWState {
  step: number;
  expAvg: Map<string, Float32Array>;
  expAvgSq: Map<string, Float32Array>;
}

export class AdamW {
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  private readonly decay: (name: string, shape: readonly number[]) => boolean;
  state: AdamWState = { step: 0, expAvg: new Map(), expAvgSq: new Map() };

  constructor(opts: AdamWOptions = {}) {
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.01;
    this.decay = opts.decay ?? openClipDecay;
  }

  /** One step at learning rate `lr`: updates each `params` entry in place from `grads` of the same name. */
  step(params: ReadonlyMap<string, { data: Float32Array; shape: readonly number[] }>, grads: ReadonlyMap<string, Float32Array>, lr: number): void {
    const [b1, b2] = this.betas;
    const step = ++this.state.step;
    const stepSize = f(-(lr / (1 - b1 ** step)));
    const bc2Sqrt = f(Math.sqrt(1 - b2 ** step));
    const [oneMinusB1, oneMinusB2, fb1, fb2, eps] = [f(1 - b1), f(1 - b2), f(b1), f(b2), f(this.eps)];
    for (const [name, p] of params) {
      const g = grads.get(name);
      if (!g) continue;
      const m = this.slot(this.state.expAvg, name, g.length);
      const v = this.slot(this.state.expAvgSq, name, g.length);
      const w = p.data;
      if (this.decay(name, p.shape)) {
        const keep = f(1 - lr * this.weightDecay);
        for (let i = 0; i < w.length; i++) w[i] = f(w[i]! * keep);
      }
      for (let i = 0; i < w.length; i++) {
        const gi = g[i]!;
        const mi = (m[i] = f(f(m[i]! * fb1) + f(gi * oneMinusB1)));
        const vi = (v[i] = f(f(v[i]! * fb2) + f(f(gi * gi) * oneMinusB2)));
        const denom = f(f(f(Math.sqrt(vi)) / bc2Sqrt) + eps);
        w[i] = f(w[i]! + f(stepSize * f(mi / denom)));
      }
    }
  }

  private slot(map: Map<string, Float32Array>, name: string, length: number): Float32Array {
    let a = map.get(name);
    if (!a) map.set(name, (a = new Float32Array(length)));
    return a;
  }
}
