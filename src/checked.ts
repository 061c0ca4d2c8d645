// Checked element access. With `noUncheckedIndexedAccess` every `list[i]` may be undefined; where the
// index is proven in range (a loop bound, a length checked just above) these helpers say so once and
// fail loudly if the proof is ever wrong, instead of a `!` that would let `undefined` flow on silently.
//
// Hot loops over typed arrays (pixels, tensor conversions) check the length once with
// `assertLength` and read with `?? 0`, a branch the check makes dead: `at` there is not inlined
// (it sees every typed-array type) and made those loops 4–7× slower in a benchmark.

/** Element `i` of `list`; throws if it is missing (a broken invariant, not bad user input). */
export function at<T>(list: ArrayLike<T>, i: number): T {
  const value = list[i];
  if (value === undefined) throw new RangeError(`index ${i} out of range for length ${list.length}`);
  return value;
}

/** Throws unless `list` holds at least `length` elements (`what` names it in the error). */
export function assertLength(list: ArrayLike<unknown>, length: number, what = 'array'): void {
  if (list.length < length) throw new RangeError(`${what} has ${list.length} elements, ${length} expected`);
}

/** First element of a list that must not be empty. */
export const first = <T>(list: ArrayLike<T>): T => at(list, 0);

/** Last element of a list that must not be empty. */
export const last = <T>(list: ArrayLike<T>): T => at(list, list.length - 1);

/** The value of `key` in `map`; throws, naming `where` (a file, a table), if it has none. */
export function entry<K, V>(map: ReadonlyMap<K, V>, key: K, where = 'the map'): V {
  const value = map.get(key);
  if (value === undefined) throw new RangeError(`${where} has no entry "${String(key)}"`);
  return value;
}
