// A model whose float32 weights exceed protobuf's 2 GiB limit still loads and runs: its ONNX
// weights go to an external data file (graph/onnx.ts). Not part of `npm test` (it needs ~10 GB
// of memory and a minute or two): `node dist/bench/large-model.js`.

import { buildImageGraph } from '../src/models/clip.js';
import { CLIP } from '../src/inference/clip.js';
import type { ClipConfig } from '../src/models/config.js';
import { weightBytes } from '../src/graph/onnx.js';
import { fromFloat32, type StateDict } from '../src/tensor.js';

// A ViT wider and deeper than ViT-L/14: 24 layers of width 1536 ≈ 680 M parameters ≈ 2.7 GB in float32.
const CONFIG: ClipConfig = {
  embedDim: 768,
  vision: { kind: 'vit', width: 1536, layers: 24, heads: 24, patchSize: 32, imageResolution: 224 },
  text: { kind: 'transformer', width: 64, layers: 1, heads: 1, contextLength: 77, vocabSize: 49408 },
  activation: 'quick_gelu',
};

const started = Date.now();
const seconds = () => ((Date.now() - started) / 1000).toFixed(1);

// Small deterministic weights (cheaper than random normals for 680 M values; the point is size).
const stateDict: StateDict = new Map();
const fill = (key: string, shape: readonly number[]) => {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  const gain = /ln_\w+\.weight$/.test(key);
  for (let i = 0; i < data.length; i++) data[i] = gain ? 1 : (((i * 2654435761) % 1000) - 500) * 2e-5;
  return fromFloat32(data, shape);
};
const graph = buildImageGraph(stateDict, CONFIG, { fill });
const bytes = weightBytes(graph);
console.log(`built a ${(bytes / 2 ** 30).toFixed(2)} GiB image tower (${stateDict.size} tensors) in ${seconds()} s`);
if (bytes <= 2 ** 31) throw new Error('the test model must exceed 2 GiB of weights');

const model = new CLIP(stateDict, {}, CONFIG);
const R = CONFIG.vision.imageResolution;
const images = { data: new Float32Array(2 * 3 * R * R).map((_, i) => Math.sin(i)), shape: [2, 3, R, R] };
const features = await model.encodeImage(images);
const finite = features.data.every(Number.isFinite);
console.log(
  `encodeImage [2, 3, ${R}, ${R}] → [${features.shape.join(', ')}], finite: ${finite}, after ${seconds()} s; peak ` +
    `RSS ${(process.resourceUsage().maxRSS / 2 ** 20).toFixed(1)} GiB`,
);
await model.release();
if (!finite || features.shape[1] !== CONFIG.embedDim) process.exit(1);
