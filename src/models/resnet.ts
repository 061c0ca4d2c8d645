// The reference `ModifiedResNet`: a 3-conv stem with an average pool, four stages of Bottleneck
// blocks that downsample with an average pool before their stride-1 convolutions (anti-aliasing),
// and `AttentionPool2d` (one query: the mean of the grid) instead of global average pooling.

import { at } from '../checked.js';
import { concat, type Dim, type Value } from '../graph/ir.js';
import { linear, multiHeadAttention, type AttentionProjections } from '../graph/nn.js';
import { batchNorm2dTrain } from '../graph/nn-train.js';
import type { ModifiedResNetConfig } from './config.js';
import type { Params } from './params.js';

/**
 * Conv2d then BatchNorm2d. `training`: BatchNorm normalises with batch statistics and records
 * running-stat updates (nn-train.ts). Inference folds eval-mode BatchNorm into the convolution:
 * weight · α per output channel and bias β - mean · α, α = γ / √(var + ε), made when the
 * graph is serialised. ONNX Runtime would fuse Conv+Mul+Add the same way at every load; folded
 * here, a convolution is one node whose weights int8 quantisation can use (quantize-conv.ts).
 */
function convBn(
  x: Value,
  p: Params,
  conv: string,
  bn: string,
  outChannels: number,
  kernel: number,
  opts: { stride?: number; padding?: number; training?: boolean } = {},
): Value {
  const w = p.get(`${conv}.weight`, [outChannels, x.dim(1), kernel, kernel]);
  const b = p.scope(bn);
  const stats = {
    weight: b.get('weight', [outChannels]),
    bias: b.get('bias', [outChannels]),
    runningMean: b.get('running_mean', [outChannels]),
    runningVar: b.get('running_var', [outChannels]),
  };
  if (opts.training) return batchNorm2dTrain(x.conv2d(w, opts), stats);
  const g = x.graph;
  const values = (v: Value) => g.initializer(v).data() as Float32Array;
  const alpha = (): Float32Array => {
    const [gamma, variance] = [values(stats.weight), values(stats.runningVar)];
    return Float32Array.from(gamma, (s, o) =>
      Math.fround(s / Math.fround(Math.sqrt(Math.fround(at(variance, o) + BN_EPS)))),
    );
  };
  const name = g.initializer(w).name;
  const weight = g.param(
    `${name}*bn`,
    () => {
      const [data, a] = [values(w), alpha()];
      const per = data.length / outChannels;
      return Float32Array.from(data, (v, i) => v * at(a, Math.floor(i / per)));
    },
    w.shape,
  );
  const bias = g.param(`${name}*bn.bias`, () => {
    const [beta, mean, a] = [values(stats.bias), values(stats.runningMean), alpha()];
    return Float32Array.from(beta, (v, o) => v - at(mean, o) * at(a, o));
  }, [outChannels]);
  return x.conv2d(weight, { ...opts, bias });
}

const BN_EPS = 1e-5;
const EXPANSION = 4;

function bottleneck(x: Value, p: Params, planes: number, stride: number, training: boolean): Value {
  const inplanes = x.dim(1);
  let out = convBn(x, p, 'conv1', 'bn1', planes, 1, { training }).relu();
  out = convBn(out, p, 'conv2', 'bn2', planes, 3, { padding: 1, training }).relu();
  if (stride > 1) out = out.avgPool2d(stride);
  out = convBn(out, p, 'conv3', 'bn3', planes * EXPANSION, 1, { training });
  let identity = x;
  if (stride > 1 || inplanes !== planes * EXPANSION) {
    // downsample = Sequential({"-1": AvgPool2d(stride), "0": Conv2d 1×1, "1": BatchNorm2d}).
    identity = convBn(stride > 1 ? x.avgPool2d(stride) : x, p, 'downsample.0', 'downsample.1', planes * EXPANSION, 1, {
      training,
    });
  }
  return out.add(identity).relu();
}

/**
 * AttentionPool2d: the grid's mean token (first) attends over [mean, grid] + positional embedding.
 * Training runs the reference's multi-head attention; inference uses the exact reassociation in
 * singleQueryAttention.
 */
function attentionPool(x: Value, p: Params, heads: number, outputDim: number, training: boolean): Value {
  const [batch, channels] = [at(x.shape, 0), x.dim(1)];
  const spatial = x.dim(2) * x.dim(3);
  const grid = x.reshape([batch, channels, spatial]).transpose([0, 2, 1]); // [N, HW, C]
  let tokens = concat([grid.mean([1]), grid], 1); // the mean token first
  tokens = tokens.add(p.get('positional_embedding', [spatial + 1, channels]));
  const proj = (name: string, out: number) => ({
    weight: p.get(`${name}.weight`, [out, channels]),
    bias: p.get(`${name}.bias`, [out]),
  });
  const projections = {
    q: proj('q_proj', channels),
    k: proj('k_proj', channels),
    v: proj('v_proj', channels),
    out: proj('c_proj', outputDim),
  };
  if (!training) return singleQueryAttention(tokens, projections, heads);
  return multiHeadAttention(tokens.slice(1, 0, 1), tokens, projections, heads).reshape([batch, outputDim]);
}

/**
 * Attention of the first token over all L tokens [N, L, C] → [N, outputDim], equal (up to float
 * rounding) to projecting every token to keys and values, at a fraction of the cost: per head h,
 *   scores: q_h · (Wk_h x_j + bk_h) = (Wk_hᵀ q_h) · x_j + q_h · bk_h, and the last term is the
 *           same for every key j, which softmax ignores;
 *   values: Σ_j a_hj (Wv_h x_j + bv_h) = Wv_h (Σ_j a_hj x_j) + bv_h, since the weights sum to 1.
 * So no token but the query is projected: RN50 at 224 px does 2 C² instead of 2 (L + 1) C²
 * multiply-adds per image here (L = 50, C = 2048), about 7% of the whole tower.
 */
function singleQueryAttention(tokens: Value, p: AttentionProjections, heads: number): Value {
  const [n, , channels] = tokens.shape as [Dim, Dim, number];
  const headDim = channels / heads;
  const q = linear(tokens.slice(1, 0, 1), p.q.weight, p.q.bias)
    .reshape([n, heads, headDim])
    .div(Math.sqrt(headDim));
  const perHead = (w: Value) => w.reshape([heads, headDim, channels]); // rows of head h: [h·hd, (h+1)·hd)
  const keysInInputSpace = q.transpose([1, 0, 2]).matmul(perHead(p.k.weight)).transpose([1, 0, 2]); // [N, H, C]
  const weights = keysInInputSpace.matmul(tokens.transpose([0, 2, 1])).softmax(-1); // [N, H, L]
  const mixed = weights.matmul(tokens); // [N, H, C]
  const values = mixed.transpose([1, 0, 2]).matmul(perHead(p.v.weight).transpose([0, 2, 1])); // [H, N, hd]
  const attended = values.transpose([1, 0, 2]).reshape([n, channels]).add(p.v.bias);
  return linear(attended, p.out.weight, p.out.bias);
}

/** images float32 [N, 3, R, R] → image features [N, embedDim]; `training`: train-mode BatchNorm (fixed batch size). */
export function encodeImageResNet(
  images: Value,
  p: Params,
  cfg: ModifiedResNetConfig,
  embedDim: number,
  training = false,
): Value {
  const { width } = cfg;
  // The stem: relu1(bn1(conv1(x))), twice more, then avgpool (the reference's module names).
  const relu = (name: string, x: Value) => p.module(name, x, (x) => x.relu());
  let x = relu('relu1', convBn(images, p, 'conv1', 'bn1', width / 2, 3, { stride: 2, padding: 1, training }));
  x = relu('relu2', convBn(x, p, 'conv2', 'bn2', width / 2, 3, { padding: 1, training }));
  x = relu('relu3', convBn(x, p, 'conv3', 'bn3', width, 3, { padding: 1, training }));
  x = p.module('avgpool', x, (x) => x.avgPool2d(2));
  cfg.layers.forEach((blocks, stage) => {
    const planes = width * 2 ** stage;
    for (let i = 0; i < blocks; i++) {
      const stride = i === 0 && stage > 0 ? 2 : 1;
      x = p.module(`layer${stage + 1}.${i}`, x, (x, block) => bottleneck(x, block, planes, stride, training));
    }
  });
  return p.module('attnpool', x, (x, pool) => attentionPool(x, pool, cfg.heads, embedDim, training));
}
