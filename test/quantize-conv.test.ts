// Static int8 convolutions (graph/quantize-conv.ts, inference/int8.ts) on random-weight towers:
// every convolution is rewritten to QDQ form from calibrated ranges, ONNX Runtime runs it, and
// features stay close to float32 on images the calibration did not see.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildImageGraph } from '../src/models/clip.js';
import type { ClipConfig } from '../src/models/config.js';
import { quantizeTower, type MatmulQuantization } from '../src/inference/int8.js';
import { randomStateDict } from '../src/models/random.js';
import { Session } from '../src/runtime/session.js';
import type { Tensor } from '../src/tensor.js';

const TINY_RN: ClipConfig = {
  embedDim: 16,
  activation: 'quick_gelu',
  vision: { kind: 'resnet', width: 8, layers: [1, 2, 1, 1], heads: 2, imageResolution: 64 },
  text: { kind: 'transformer', width: 64, layers: 1, heads: 1, contextLength: 8, vocabSize: 50 },
};
const TINY_VIT: ClipConfig = {
  ...TINY_RN,
  vision: { kind: 'vit', width: 64, layers: 2, heads: 2, patchSize: 8, imageResolution: 32 },
};

/** Smooth image-like inputs (normalised-pixel range), different per seed. */
function images(n: number, res: number, seed: number): Tensor {
  const data = new Float32Array(n * 3 * res * res);
  for (let i = 0; i < data.length; i++) {
    data[i] = 1.8 * Math.sin(i * 0.013 * (1 + seed) + seed) * Math.cos(i * 0.0007 + seed * 3);
  }
  return { data, shape: [n, 3, res, res] };
}

type Features = { out: Float32Array; ops: string[] };
async function features(
  cfg: ClipConfig,
  calibration: Tensor | undefined,
  inputs: Tensor,
  matmuls?: MatmulQuantization,
): Promise<Features> {
  const graph = buildImageGraph(randomStateDict(cfg, 11), cfg);
  if (calibration) await quantizeTower(graph, { images: calibration }, { matmuls });
  const session = await Session.create(graph);
  const out = (await session.run({ images: inputs })).image_features!.data as Float32Array;
  await session.release();
  return { out, ops: graph.nodes.map((n) => n.op) };
}

function minCosine(a: Float32Array, b: Float32Array, d: number): number {
  let worst = 1;
  for (let r = 0; r < a.length / d; r++) {
    let ab = 0;
    let aa = 0;
    let bb = 0;
    for (let j = r * d; j < (r + 1) * d; j++) {
      ab += a[j]! * b[j]!;
      aa += a[j]! ** 2;
      bb += b[j]! ** 2;
    }
    worst = Math.min(worst, ab / Math.sqrt(aa * bb));
  }
  return worst;
}

for (const cfg of [TINY_RN, TINY_VIT]) {
  test(`${cfg.vision.kind}: calibrated int8 convolutions stay close to float32 on unseen images`, async () => {
    const R = cfg.vision.imageResolution;
    const unseen = images(3, R, 7);
    const fp32 = await features(cfg, undefined, unseen);
    const int8 = await features(cfg, images(4, R, 1), unseen);
    const convs = fp32.ops.filter((o) => o === 'Conv').length;
    assert.ok(convs > 0);
    // Every convolution reads dequantized int8 weights (one DequantizeLinear each, plus its bias).
    assert.ok(int8.ops.filter((o) => o === 'QuantizeLinear').length >= convs, `ops: ${int8.ops.join(' ')}`);
    const cos = minCosine(fp32.out, int8.out, cfg.embedDim);
    assert.ok(cos > 0.99, `feature cosine ${cos}`);
    assert.ok(
      fp32.out.some((v, i) => v !== int8.out[i]),
      'int8 must actually change the computation',
    );
  });
}

test('static int8 matmuls: calibrated input scales, no per-batch quantisation, close to float32', async () => {
  const R = TINY_VIT.vision.imageResolution;
  const unseen = images(3, R, 7);
  const fp32 = await features(TINY_VIT, undefined, unseen);
  const dynamic = await features(TINY_VIT, images(4, R, 1), unseen);
  const statik = await features(TINY_VIT, images(4, R, 1), unseen, 'static');
  const matmuls = dynamic.ops.filter((o) => o === 'DynamicQuantizeMatMul').length;
  assert.ok(matmuls > 0, `ops: ${dynamic.ops.join(' ')}`);
  assert.equal(statik.ops.filter((o) => o === 'DynamicQuantizeMatMul').length, 0);
  // Each weight matmul now reads its input through QuantizeLinear (beside the convolutions' ones).
  const quantizers = (f: Features) => f.ops.filter((o) => o === 'QuantizeLinear').length;
  assert.equal(quantizers(statik), quantizers(dynamic) + matmuls, `ops: ${statik.ops.join(' ')}`);
  const cos = minCosine(fp32.out, statik.out, TINY_VIT.embedDim);
  assert.ok(cos > 0.99, `feature cosine ${cos}`);
  assert.ok(
    statik.out.some((v, i) => v !== dynamic.out[i]),
    'static and dynamic quantisation must differ',
  );
});
