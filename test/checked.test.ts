import assert from 'node:assert/strict';
import { test } from 'node:test';
import { at, first, last } from '../src/checked.js';

test('at/first/last return elements in range and throw a RangeError outside it', () => {
  assert.equal(at([10, 20, 30], 1), 20);
  assert.equal(first(new Float32Array([1.5, 2])), 1.5);
  assert.equal(last('abc'), 'c');
  assert.throws(() => at([1], 1), RangeError);
  assert.throws(() => first([]), /index 0 out of range for length 0/);
  assert.throws(() => last(new Int32Array(0)), RangeError);
});
