// The reference `Transformer` of residual attention blocks (shared by the text tower and the ViT),
// batch-first: x [N, L, D]. Names follow the checkpoint: resblocks.<i>.{ln_1, attn, ln_2, mlp}.

import { at } from '../checked.js';
import type { Value } from '../graph/ir.js';
import {
  gelu,
  layerNorm,
  linear,
  maskRowsAt,
  multiHeadAttention,
  quickGelu,
  rowsAt,
  splitInProj,
  type Position,
} from '../graph/nn.js';
import type { Activation } from './config.js';
import type { Params } from './params.js';

export function layerNormParams(p: Params, width: number): [Value, Value] {
  return [p.get('weight', [width]), p.get('bias', [width])];
}

export interface TransformerOptions {
  width: number;
  layers: number;
  heads: number;
  mask?: Value;
  activation: Activation;
  /** MLP hidden width; default 4 · width (the reference's). */
  mlpWidth?: number;
  /** The one position per sequence that leaves the tower (the class token, or each row's end token). */
  pooled: Position;
}

/**
 * One block. With `at`, only the rows at `at` are computed past the keys and values: every
 * token is still normalised and projected to keys and values, but the queries, attention,
 * output projection, residual and MLP run for one row per sequence ([N, 1, D] out). Every
 * operation is row-wise, so those rows equal the full block's up to float rounding.
 */
function residualAttentionBlock(
  x: Value,
  p: Params,
  { width, heads, mask, activation, mlpWidth = 4 * width }: TransformerOptions,
  at?: Position,
): Value {
  const attn = p.scope('attn');
  const normed = layerNorm(x, ...layerNormParams(p.scope('ln_1'), width));
  const projections = splitInProj(
    attn.get('in_proj_weight', [3 * width, width]),
    attn.get('in_proj_bias', [3 * width]),
    attn.get('out_proj.weight', [width, width]),
    attn.get('out_proj.bias', [width]),
  );
  const rows = (v: Value) => (at === undefined ? v : rowsAt(v, at));
  const attended = multiHeadAttention(
    rows(normed),
    normed,
    projections,
    heads,
    mask && at !== undefined ? maskRowsAt(mask, at) : mask,
  );
  x = rows(x).add(attended);
  const mlp = p.scope('mlp');
  const act = activation === 'gelu' ? gelu : quickGelu;
  const hidden = act(
    linear(
      layerNorm(x, ...layerNormParams(p.scope('ln_2'), width)),
      mlp.get('c_fc.weight', [mlpWidth, width]),
      mlp.get('c_fc.bias', [mlpWidth]),
    ),
  );
  return x.add(linear(hidden, mlp.get('c_proj.weight', [width, mlpWidth]), mlp.get('c_proj.bias', [width])));
}

/**
 * Runs `layers` blocks (`resblocks.<i>`) and returns the last block's output at `pooled` ([N, D]),
 * computed by the pruned last block (see residualAttentionBlock), and, in `all`, the full last block
 * [N, L, D]. The full last block is built only for `all` and parity checks: serialisation drops it
 * unless a caller exposes it. Module calls of the last block: the full one, then the pruned one.
 */
export function transformer(x: Value, p: Params, opts: TransformerOptions): { pooled: Value; all: Value } {
  const block = (i: number, position?: Position) =>
    p.module(`resblocks.${i}`, x, (x, block) => residualAttentionBlock(x, block, opts, position));
  const last = opts.layers - 1;
  for (let i = 0; i < last; i++) x = block(i);
  const all = block(last);
  const pooled = block(last, opts.pooled);
  return { pooled: pooled.reshape([at(x.shape, 0), opts.width]), all };
}

/** LayerNorm `name` (weight and bias of `width`) applied to `x`. */
export function layerNormModule(p: Params, name: string, x: Value, width: number): Value {
  return p.module(name, x, (x, ln) => layerNorm(x, ...layerNormParams(ln, width)));
}
