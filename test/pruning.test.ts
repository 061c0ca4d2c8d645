// The pruned last block (models/transformer.ts, models/bert.ts): only the pooled row per sequence
// runs past the keys and values. Each tower's graph with its activations exposed computes both the full
// last block and the pruned one; the pruned rows must equal the full block's rows at the pooled
// positions (class token, each row's end token, [CLS]), and the features graph must not contain
// the full block.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildImageGraph, buildTextGraph } from '../src/models/clip.js';
import type { ClipConfig } from '../src/models/config.js';
import { randomStateDict } from '../src/models/random.js';
import { Session, type TensorLike } from '../src/runtime/session.js';
import { liveNodes, type Graph } from '../src/graph/ir.js';
import { withActivations } from '../src/parity/activations.js';
import { TINY_BERT } from './tiny-configs.js';

const VIT_TEXT: ClipConfig = {
  embedDim: 16,
  activation: 'quick_gelu',
  vision: { kind: 'vit', width: 64, layers: 2, heads: 2, patchSize: 8, imageResolution: 16 },
  text: { kind: 'transformer', width: 64, layers: 2, heads: 2, contextLength: 8, vocabSize: 50 },
};
const BERT: ClipConfig = { ...VIT_TEXT, text: TINY_BERT };

async function run(graph: Graph, feeds: Record<string, TensorLike>): Promise<Record<string, TensorLike>> {
  const session = await Session.create(graph);
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

/** Max |pruned[n] - full[n, positions[n]]| over rows n, for full [N, L, D] and pruned [N, (1,) D]. */
function rowGap(full: TensorLike, pruned: TensorLike, positions: number[]): number {
  const [n, L, D] = full.shape as [number, number, number];
  assert.deepEqual([pruned.data.length], [n * D]);
  let gap = 0;
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < D; j++) {
      const fullRow = Number(full.data[(r * L + positions[r]!) * D + j]);
      gap = Math.max(gap, Math.abs(Number(pruned.data[r * D + j]) - fullRow));
    }
  }
  return gap;
}

test('ViT: the pruned last block equals the full block at the class token', async () => {
  const sd = randomStateDict(VIT_TEXT, 5);
  const images = { data: Float32Array.from({ length: 2304 }, (_, i) => Math.sin(i * 0.37)), shape: [3, 3, 16, 16] };
  const out = await run(withActivations(buildImageGraph(sd, VIT_TEXT), VIT_TEXT), { images });
  const last = 'act.visual.transformer.resblocks.1';
  const gap = rowGap(out[last]!, out[`${last}.pooled`]!, [0, 0, 0]);
  assert.ok(gap < 1e-5, `class-token rows differ by ${gap}`);
});

test("text: the pruned last block equals the full block at each row's end token", async () => {
  const sd = randomStateDict(VIT_TEXT, 6);
  // End tokens (the highest id, 49) at positions 2, 5 and 7: the pruned rows follow each row's own.
  const rows = [
    [48, 3, 49, 0, 0, 0, 0, 0],
    [48, 7, 9, 11, 4, 49, 0, 0],
    [48, 1, 2, 3, 4, 5, 6, 49],
  ];
  const tokens = { data: Int32Array.from(rows.flat()), shape: [3, 8] };
  const out = await run(withActivations(buildTextGraph(sd, VIT_TEXT), VIT_TEXT), { tokens });
  const gap = rowGap(out['act.text.resblocks.1']!, out['act.text.resblocks.1.pooled']!, [2, 5, 7]);
  assert.ok(gap < 1e-5, `end-token rows differ by ${gap}`);
});

test('BERT: the pruned last layer equals the full layer at [CLS]', async () => {
  const sd = randomStateDict(BERT, 7);
  const tokens = { data: Int32Array.from([1, 5, 6, 2, 0, 0, 1, 7, 2, 0, 0, 0, 1, 5, 9, 8, 4, 2]), shape: [3, 6] };
  const out = await run(withActivations(buildTextGraph(sd, BERT, { dynamicLength: true }), BERT), { tokens });
  const gap = rowGap(out['act.text.layer.1']!, out['act.text.cls']!, [0, 0, 0]);
  assert.ok(gap < 1e-5, `[CLS] rows differ by ${gap}`);
});

test('the full last block is built for parity checks only: the features graph leaves it out', () => {
  for (const cfg of [VIT_TEXT, BERT]) {
    const sd = randomStateDict(cfg, 8);
    const lastText = cfg.text.kind === 'bert' ? 'bert.encoder.layer.1' : 'transformer.resblocks.1';
    for (const [graph, lastBlock] of [
      [buildImageGraph(sd, cfg), 'visual.transformer.resblocks.1'],
      [buildTextGraph(sd, cfg), lastText],
    ] as const) {
      const { values } = liveNodes(graph);
      const [full, pruned] = graph.moduleCalls.get(lastBlock) ?? [];
      assert.ok(full && pruned, `${lastBlock} is not called twice (full, then pruned)`);
      assert.equal(values.has(full.output.id), false, `the full ${lastBlock} is computed for the features`);
      assert.equal(values.has(pruned.output.id), true, `the pruned ${lastBlock} is not what the features use`);
    }
  }
});
