// Shape changes on raw checkpoint bytes, for any dtype: the key adapters move tensors between
// naming schemes without decoding (or upcasting) their values.
import { at } from '../../checked.js';
import { ConfigError } from '../../errors.js';
import { DTYPE_SIZE, numel, type RawTensor } from '../../tensor.js';

/** [rows, cols] → [cols, rows] (e.g. HF's Linear weight [out, in] → OpenAI's `x @ proj` [in, out]). */
export function transpose2d(t: RawTensor, name: string): RawTensor {
  if (t.shape.length !== 2)
    throw new ConfigError(`${name}: expected a 2-D tensor to transpose, got shape [${t.shape}]`);
  const [rows, cols] = t.shape as [number, number];
  const size = DTYPE_SIZE[t.dtype];
  const out = new Uint8Array(t.bytes.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const from = (r * cols + c) * size;
      out.set(t.bytes.subarray(from, from + size), (c * rows + r) * size);
    }
  }
  return { dtype: t.dtype, shape: [cols, rows], bytes: out };
}

/** Stacks tensors along the first axis (C-contiguous, so the bytes simply follow each other). */
export function concat0(parts: readonly RawTensor[], names: readonly string[]): RawTensor {
  const [first] = parts;
  if (!first) throw new ConfigError('concat0: nothing to concatenate');
  const rest = first.shape.slice(1).join(',');
  parts.forEach((p, i) => {
    if (p.dtype !== first.dtype || p.shape.slice(1).join(',') !== rest || p.shape.length === 0) {
      throw new ConfigError(
        `${names[i]}: ${p.dtype} [${p.shape}] cannot be stacked with ${names[0]}: ${first.dtype} [${first.shape}]`,
      );
    }
    if (p.bytes.length !== numel(p.shape) * DTYPE_SIZE[p.dtype]) {
      throw new ConfigError(`${names[i]}: ${p.bytes.length} bytes do not match ${p.dtype} [${p.shape}]`);
    }
  });
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.bytes.length, 0));
  let offset = 0;
  for (const p of parts) {
    bytes.set(p.bytes, offset);
    offset += p.bytes.length;
  }
  const rows = parts.reduce((n, p) => n + at(p.shape, 0), 0);
  return { dtype: first.dtype, shape: [rows, ...first.shape.slice(1)], bytes };
}
