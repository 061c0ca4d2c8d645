// Chinese-CLIP's text tower: a BERT/RoBERTa encoder (post-LN layers, exact erf GELU, padding
// mask) whose [CLS] hidden state is projected by text_projection. Names follow the checkpoint:
// bert.embeddings.*, bert.encoder.layer.<i>.{attention.self, attention.output, intermediate, output}.

import { at } from '../checked.js';
import type { Value } from '../graph/ir.js';
import { gelu, layerNorm, linear, multiHeadAttention, rowsAt } from '../graph/nn.js';
import type { BertConfig } from './config.js';
import type { Params } from './params.js';

const BERT_LN_EPS = 1e-12;

function dense(x: Value, p: Params, out: number, inp: number): Value {
  return linear(x, p.get('weight', [out, inp]), p.get('bias', [out]));
}

function norm(x: Value, p: Params, width: number): Value {
  return layerNorm(x, p.get('weight', [width]), p.get('bias', [width]), BERT_LN_EPS);
}

/** One layer; with `cls`, only the [CLS] row past the keys and values ([N, 1, D] out, see transformer.ts). */
function bertLayer(x: Value, p: Params, cfg: BertConfig, mask: Value, cls = false): Value {
  const { width, intermediate } = cfg;
  const query = cls ? rowsAt(x, 0) : x;
  const self = p.scope('attention.self');
  const proj = (name: string) => ({
    weight: self.get(`${name}.weight`, [width, width]),
    bias: self.get(`${name}.bias`, [width]),
  });
  const out = p.scope('attention.output.dense');
  const context = multiHeadAttention(
    query,
    x,
    {
      q: proj('query'),
      k: proj('key'),
      v: proj('value'),
      out: { weight: out.get('weight', [width, width]), bias: out.get('bias', [width]) },
    },
    cfg.heads,
    mask,
  );
  const attended = norm(context.add(query), p.scope('attention.output.LayerNorm'), width);
  const hidden = gelu(dense(attended, p.scope('intermediate.dense'), intermediate, width));
  return norm(
    dense(hidden, p.scope('output.dense'), width, intermediate).add(attended),
    p.scope('output.LayerNorm'),
    width,
  );
}

/** word + position + token-type (0) embeddings, then LayerNorm: BertEmbeddings. */
function embeddings(tokens: Value, emb: Params, cfg: BertConfig): Value {
  const { width } = cfg;
  const length = at(tokens.shape, 1);
  let x = emb.get('word_embeddings.weight', [cfg.vocabSize, width]).gather(tokens);
  const positions = emb.get('position_embeddings.weight', [cfg.maxPositions, width]);
  x = x.add(typeof length === 'number' ? positions.slice(0, 0, length) : positions.sliceAs(0, tokens, 1));
  // token type 0 everywhere
  x = x.add(emb.get('token_type_embeddings.weight', [cfg.typeVocabSize, width]).slice(0, 0, 1));
  return norm(x, emb.scope('LayerNorm'), width);
}

/** tokens int32 [N, L] (0 = [PAD]) → text features [N, embedDim], pooled at [CLS] (position 0). */
export function encodeTextBert(tokens: Value, p: Params, cfg: BertConfig, embedDim: number): Value {
  const { width } = cfg;
  const [batch, length] = [at(tokens.shape, 0), at(tokens.shape, 1)];
  let x = p.module('bert.embeddings', tokens, (tokens, emb) => embeddings(tokens, emb, cfg));
  // The reference's additive mask: (1 - (ids != 0)) · -10000 on the keys, broadcast over heads and queries.
  const mask = tokens
    .equal(tokens.graph.constant(Int32Array.of(0), []))
    .cast('float32')
    .mul(-10000)
    .reshape([batch, 1, 1, length]);
  const layer = (i: number, cls = false) =>
    p.module(`bert.encoder.layer.${i}`, x, (x, layer) => bertLayer(x, layer, cfg, mask, cls));
  const last = cfg.layers - 1;
  for (let i = 0; i < last; i++) x = layer(i);
  // Only [CLS] leaves the tower: the last layer computes its row alone; the full last layer is
  // built for parity checks only (dropped from the ONNX model unless one exposes it).
  layer(last);
  const cls = layer(last, true).reshape([batch, width]);
  return cls.matmul(p.get('text_projection', [width, embedDim]));
}
