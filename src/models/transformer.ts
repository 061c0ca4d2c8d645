// The reference `Transformer` of residual attention blocks (shared by the text tower and the ViT),
// batch-first: x [N, L, D]. Names follow the checkpoint: resblocks.<i>.{ln_1, attn, ln_2, mlp}.

import type { Value } from '../graph/ir.js';
import { gelu, layerNorm, linear, quickGelu, selfAttention } from '../graph/nn.js';
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
  tapPrefix: string;
}

function residualAttentionBlock(x: Value, p: Params, { width, heads, mask, activation, mlpWidth = 4 * width }: TransformerOptions): Value {
  const attn = p.scope('attn');
  const attended = selfAttention(layerNorm(x, ...layerNormParams(p.scope('ln_1'), width)), {
    inProjWeight: attn.get('in_proj_weight', [3 * width, width]),
    inProjBias: attn.get('in_proj_bias', [3 * width]),
    outWeight: attn.get('out_proj.weight', [width, width]),
    outBias: attn.get('out_proj.bias', [width]),
  }, heads, mask);
  x = x.add(attended);
  const mlp = p.scope('mlp');
  const act = activation === 'gelu' ? gelu : quickGelu;
  const hidden = act(linear(layerNorm(x, ...layerNormParams(p.scope('ln_2'), width)),
    mlp.get('c_fc.weight', [mlpWidth, width]), mlp.get('c_fc.bias', [mlpWidth])));
  return x.add(linear(hidden, mlp.get('c_proj.weight', [width, mlpWidth]), mlp.get('c_proj.bias', [width])));
}

/** Runs `layers` blocks; taps each block's output as `<tapPrefix>.<i>`. */
export function transformer(x: Value, p: Params, opts: TransformerOptions): Value {
  for (let i = 0; i < opts.layers; i++) {
    x = residualAttentionBlock(x, p.scope(`resblocks.${i}`), opts);
    x.graph.tap(`${opts.tapPrefix}.${i}`, x);
  }
  return x;
}
