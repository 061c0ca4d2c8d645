// Checked element access. With `noUncheckedIndexedAccess` every `list[i]` may be undefined; where the
// index is proven in range (a loop bound, a length checked just above) these helpers say so once and
// fail loudly if the proof is ever wrong, instead of a `!` that would let `undefined` flow on silently.

/** Element `i` of `list`; throws if it is missing (a broken invariant, not bad user input). */
export function at<T>(list: ArrayLike<T>, i: number): T {
  const value = list[i];
  if (value === undefined) throw new RangeError(`index ${i} out of range for length ${list.length}`);
  return value;
}

/** First element of a list that must not be empty. */
export const first = <T>(list: ArrayLike<T>): T => at(list, 0);

/** Last element of a list that must not be empty. */
export const last = <T>(list: ArrayLike<T>): T => at(list, list.length - 1);
