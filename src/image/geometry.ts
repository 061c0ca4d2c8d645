// torchvision 0.14's size rules: the output size of Resize(n) and the offsets of CenterCrop(n).

/** Python's round(): halves go to the even neighbour (round(2.5) = 2, round(36.5) = 36). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * `Resize(n)` on a PIL image: the short side becomes n, the long side `int(n * long / short)`
 * computed in float64 in that order (`n / short * long` would give 475 instead of 476 for 170×80).
 */
export function shortestSideSize(width: number, height: number, n: number): { width: number; height: number } {
  if (width <= height) return { width: n, height: Math.trunc((n * height) / width) };
  return { width: Math.trunc((n * width) / height), height: n };
}

/**
 * Where `CenterCrop(n)` starts along one axis of length `size`: `int(round((size - n) / 2))`,
 * or, when the axis is shorter than n, minus torchvision's left/top zero padding `(n - size) // 2`.
 * The crop covers [offset, offset + n); what lies outside [0, size) is zero.
 */
export function centerCropOffset(size: number, n: number): number {
  if (n > size) return -Math.floor((n - size) / 2);
  return roundHalfEven((size - n) / 2);
}

/** A rectangle in pixel coordinates. */
export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** The crop box of CenterCrop(n) on a width × height image (may extend past the image). */
export function centerCropBox(width: number, height: number, n: number): Box {
  return { left: centerCropOffset(width, n), top: centerCropOffset(height, n), width: n, height: n };
}

/** The part of `box` that lies inside a width × height image (empty boxes have zero size). */
export function clipBox(box: Box, width: number, height: number): Box {
  const left = Math.max(0, box.left);
  const top = Math.max(0, box.top);
  const right = Math.min(width, box.left + box.width);
  const bottom = Math.min(height, box.top + box.height);
  return { left, top, width: Math.max(0, right - left), height: Math.max(0, bottom - top) };
}
