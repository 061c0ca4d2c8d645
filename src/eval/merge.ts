// Weight-space ensembling (WiSE-FT, Wortsman et al. 2022): θ = (1 − α)·θ_a + α·θ_b for two
// fine-tunes of the same architecture, usually the zero-shot model (a) and its fine-tune (b).

import { at } from '../checked.js';
import { InputError } from '../errors.js';
import { fromFloat32, toFloat32, type RawTensor, type StateDict } from '../tensor.js';

const FLOAT = new Set(['float64', 'float32', 'float16', 'bfloat16']);

const sameBytes = (x: RawTensor, y: RawTensor) =>
  x.bytes.length === y.bytes.length && x.bytes.every((v, i) => v === y.bytes[i]);

/**
 * The interpolation of every float tensor, in float32 (what the runtime computes in); other
 * tensors (integer buffers) must be equal in both and are kept. Keys and shapes must match.
 */
export function interpolateStateDicts(a: StateDict, b: StateDict, alpha: number, names = ['a', 'b']): StateDict {
  if (!(alpha >= 0 && alpha <= 1)) throw new InputError(`--alpha must be within [0, 1], got ${alpha}`);
  const missing = [...a.keys()].filter((k) => !b.has(k)).concat([...b.keys()].filter((k) => !a.has(k)));
  if (missing.length)
    throw new InputError(
      `${names[0]} and ${names[1]} differ in tensors: ` +
        `${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`,
    );
  const out: StateDict = new Map();
  for (const [key, ta] of a) {
    const tb = b.get(key);
    if (!tb) throw new InputError(`${key} is in ${names[0]} but not in ${names[1]}`);
    if (ta.shape.join() !== tb.shape.join())
      throw new InputError(
        `${key}: shape [${ta.shape.join(', ')}] in ${names[0]} but [${tb.shape.join(', ')}] in ${names[1]}`,
      );
    if (!FLOAT.has(ta.dtype) || !FLOAT.has(tb.dtype)) {
      if (ta.dtype !== tb.dtype || !sameBytes(ta, tb))
        throw new InputError(`${key}: non-float tensor (${ta.dtype}) differs between ${names[0]} and ${names[1]}`);
      out.set(key, ta);
      continue;
    }
    const [xa, xb] = [toFloat32(ta), toFloat32(tb)];
    out.set(
      key,
      fromFloat32(
        xa.map((v, i) => (1 - alpha) * v + alpha * at(xb, i)),
        ta.shape,
      ),
    );
  }
  return out;
}
