// Learning-rate schedule of open_clip's `cosine_lr`: linear warm-up from base/warmup to base over
// `warmup` steps, then half a cosine down to 0 at `totalSteps`.

export interface CosineSchedule {
  baseLr: number;
  warmup: number;
  totalSteps: number;
}

/** The learning rate for step index `step` (0-based). */
export function cosineLr(s: CosineSchedule, step: number): number {
  if (step < s.warmup) return (s.baseLr * (step + 1)) / s.warmup;
  const e = step - s.warmup;
  const span = s.totalSteps - s.warmup;
  return span <= 0 ? 0 : 0.5 * (1 + Math.cos((Math.PI * e) / span)) * s.baseLr;
}
