// Hugging Face CLIPModel → canonical names, on a synthetic state dict whose every value is
// distinct, so a misplaced q/k/v block or a missing transpose cannot go unnoticed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ConfigError } from '../src/errors.js';
import { fromFloat32, floatToHalf, toFloat32, type RawTensor, type StateDict } from '../src/tensor.js';
import { readSafetensors } from '../src/weights/safetensors.js';
import { isCanonicalKey } from '../src/weights/keymap/canonical.js';
import { huggingFaceToCanonical } from '../src/weights/keymap/hf.js';
import { detectLayout, toCanonical } from '../src/weights/keymap/index.js';
import { concat0, transpose2d } from '../src/weights/keymap/raw.js';
import { OPENAI_FIXTURES, needsFixtures } from './fixtures.js';

let next = 1;
/** A tensor whose values continue one global count: no two tensors share a value. */
function distinct(shape: number[], dtype: 'float32' | 'float16' = 'float32'): RawTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = Float32Array.from({ length: n }, () => next++);
  if (dtype === 'float32') return fromFloat32(values, shape);
  const half = Uint16Array.from(values, floatToHalf); // integers below 2048 are exact in fp16
  return { dtype, shape, bytes: new Uint8Array(half.buffer) };
}

const V = { width: 4, layers: 2, patch: 2, positions: 5 }; // 4x4 image → 2x2 grid + class token
const T = { width: 6, layers: 1, vocab: 7, context: 5 };
const EMBED = 3;

function syntheticHf(): StateDict {
  const sd: StateDict = new Map();
  const tower = (prefix: string, width: number, layers: number) => {
    for (let i = 0; i < layers; i++) {
      const l = `${prefix}.encoder.layers.${i}`;
      for (const p of ['q', 'k', 'v', 'out']) {
        sd.set(`${l}.self_attn.${p}_proj.weight`, distinct([width, width]));
        sd.set(`${l}.self_attn.${p}_proj.bias`, distinct([width]));
      }
      for (const ln of ['layer_norm1', 'layer_norm2']) {
        sd.set(`${l}.${ln}.weight`, distinct([width]));
        sd.set(`${l}.${ln}.bias`, distinct([width]));
      }
      sd.set(`${l}.mlp.fc1.weight`, distinct([4 * width, width]));
      sd.set(`${l}.mlp.fc1.bias`, distinct([4 * width]));
      sd.set(`${l}.mlp.fc2.weight`, distinct([width, 4 * width]));
      sd.set(`${l}.mlp.fc2.bias`, distinct([width]));
    }
  };
  sd.set('vision_model.embeddings.class_embedding', distinct([V.width]));
  sd.set('vision_model.embeddings.patch_embedding.weight', distinct([V.width, 3, V.patch, V.patch]));
  sd.set('vision_model.embeddings.position_embedding.weight', distinct([V.positions, V.width]));
  sd.set('vision_model.embeddings.position_ids', {
    dtype: 'int64',
    shape: [1, V.positions],
    bytes: new Uint8Array(8 * V.positions),
  });
  sd.set('vision_model.pre_layrnorm.weight', distinct([V.width]));
  sd.set('vision_model.pre_layrnorm.bias', distinct([V.width]));
  tower('vision_model', V.width, V.layers);
  sd.set('vision_model.post_layernorm.weight', distinct([V.width]));
  sd.set('vision_model.post_layernorm.bias', distinct([V.width]));
  sd.set('text_model.embeddings.token_embedding.weight', distinct([T.vocab, T.width]));
  sd.set('text_model.embeddings.position_embedding.weight', distinct([T.context, T.width]));
  tower('text_model', T.width, T.layers);
  sd.set('text_model.final_layer_norm.weight', distinct([T.width]));
  sd.set('text_model.final_layer_norm.bias', distinct([T.width]));
  sd.set('visual_projection.weight', distinct([EMBED, V.width], 'float16')); // fp16: 2-byte elements
  sd.set('text_projection.weight', distinct([EMBED, T.width]));
  sd.set('logit_scale', fromFloat32(new Float32Array([2.6592]), []));
  return sd;
}

const values = (t: RawTensor) => [...toFloat32(t)];

test('every HF tensor lands under its canonical name with the right values', () => {
  const hf = syntheticHf();
  const out = huggingFaceToCanonical(hf);

  // Pure renames keep the very same tensor.
  const renames: [string, string][] = [
    ['vision_model.embeddings.patch_embedding.weight', 'visual.conv1.weight'],
    ['vision_model.embeddings.class_embedding', 'visual.class_embedding'],
    ['vision_model.embeddings.position_embedding.weight', 'visual.positional_embedding'],
    ['vision_model.pre_layrnorm.weight', 'visual.ln_pre.weight'],
    ['vision_model.pre_layrnorm.bias', 'visual.ln_pre.bias'],
    ['vision_model.post_layernorm.weight', 'visual.ln_post.weight'],
    ['vision_model.post_layernorm.bias', 'visual.ln_post.bias'],
    ['text_model.embeddings.token_embedding.weight', 'token_embedding.weight'],
    ['text_model.embeddings.position_embedding.weight', 'positional_embedding'],
    ['text_model.final_layer_norm.weight', 'ln_final.weight'],
    ['text_model.final_layer_norm.bias', 'ln_final.bias'],
    ['logit_scale', 'logit_scale'],
  ];
  const towers: [string, string, number, number][] = [
    ['vision_model.encoder.layers', 'visual.transformer.resblocks', V.layers, V.width],
    ['text_model.encoder.layers', 'transformer.resblocks', T.layers, T.width],
  ];
  for (const [from, to, layers, width] of towers) {
    for (let i = 0; i < layers; i++) {
      for (const [a, b] of [
        ['layer_norm1', 'ln_1'],
        ['layer_norm2', 'ln_2'],
        ['mlp.fc1', 'mlp.c_fc'],
        ['mlp.fc2', 'mlp.c_proj'],
        ['self_attn.out_proj', 'attn.out_proj'],
      ]) {
        for (const p of ['weight', 'bias']) renames.push([`${from}.${i}.${a}.${p}`, `${to}.${i}.${b}.${p}`]);
      }
      // in_proj = [q; k; v] stacked along rows, as nn.MultiheadAttention slices it.
      for (const p of ['weight', 'bias'] as const) {
        const inProj = out.get(`${to}.${i}.attn.in_proj_${p}`)!;
        assert.deepEqual(inProj.shape, p === 'weight' ? [3 * width, width] : [3 * width]);
        assert.deepEqual(
          values(inProj),
          ['q', 'k', 'v'].flatMap((x) => values(hf.get(`${from}.${i}.self_attn.${x}_proj.${p}`)!)),
        );
      }
    }
  }
  for (const [from, to] of renames) assert.equal(out.get(to), hf.get(from), `${from} → ${to}`);

  // Projections: OpenAI multiplies x @ proj ([width, embed]); HF's Linear stores [embed, width].
  for (const [from, to, width] of [
    ['visual_projection.weight', 'visual.proj', V.width],
    ['text_projection.weight', 'text_projection', T.width],
  ] as const) {
    const src = values(hf.get(from)!);
    const dst = out.get(to)!;
    assert.equal(dst.dtype, hf.get(from)!.dtype);
    assert.deepEqual(dst.shape, [width, EMBED]);
    const got = values(dst);
    for (let i = 0; i < width; i++)
      for (let j = 0; j < EMBED; j++) assert.equal(got[i * EMBED + j], src[j * width + i]);
  }

  // Nothing else: exactly the canonical keys the OpenAI model has (position_ids dropped).
  const expected = new Set([
    ...renames.map(([, to]) => to),
    'visual.proj',
    'text_projection',
    ...towers.flatMap(([, to, layers]) =>
      Array.from({ length: layers }, (_, i) => [
        `${to}.${i}.attn.in_proj_weight`,
        `${to}.${i}.attn.in_proj_bias`,
      ]).flat(),
    ),
  ]);
  assert.deepEqual(new Set(out.keys()), expected);
  assert.ok([...out.keys()].every(isCanonicalKey));
});

test('toCanonical recognises the HF layout, also under a DistributedDataParallel prefix', () => {
  const hf = syntheticHf();
  assert.equal(detectLayout(hf), 'huggingface');
  const direct = huggingFaceToCanonical(hf);
  const wrapped = new Map([...hf].map(([k, t]) => [`module.${k}`, t]));
  for (const converted of [toCanonical(hf), toCanonical(wrapped)]) {
    assert.deepEqual([...converted.keys()], [...direct.keys()]);
    for (const [k, t] of converted) assert.deepEqual(t.bytes, direct.get(k)!.bytes, k);
  }
});

test('an unexpected key and a missing key are ConfigErrors that name the key', () => {
  const extra = syntheticHf();
  extra.set('vision_model.encoder.layers.0.self_attn.rotary.weight', distinct([2]));
  assert.throws(
    () => huggingFaceToCanonical(extra),
    (e: Error) =>
      e instanceof ConfigError &&
      e.message.includes('unexpected key vision_model.encoder.layers.0.self_attn.rotary.weight'),
  );

  const missing = syntheticHf();
  missing.delete('vision_model.encoder.layers.1.self_attn.k_proj.weight');
  assert.throws(
    () => huggingFaceToCanonical(missing),
    (e: Error) =>
      e instanceof ConfigError &&
      e.message.includes('missing key vision_model.encoder.layers.1.self_attn.k_proj.weight'),
  );

  // A vision-only checkpoint (CLIPVisionModelWithProjection) is not a whole CLIP.
  const visionOnly = new Map([...syntheticHf()].filter(([k]) => !k.startsWith('text')));
  assert.throws(
    () => huggingFaceToCanonical(visionOnly),
    /missing key text_model\.embeddings\.token_embedding\.weight/,
  );
});

test('raw transpose and concatenation work on any element size', () => {
  const int64 = {
    dtype: 'int64' as const,
    shape: [2, 3],
    bytes: new Uint8Array(new BigInt64Array([1n, 2n, 3n, 4n, 5n, 6n]).buffer),
  };
  assert.deepEqual([...new BigInt64Array(transpose2d(int64, 'x').bytes.buffer)], [1n, 4n, 2n, 5n, 3n, 6n]);
  const u8 = { dtype: 'uint8' as const, shape: [3, 2], bytes: Uint8Array.from([1, 2, 3, 4, 5, 6]) };
  assert.deepEqual([...transpose2d(u8, 'x').bytes], [1, 3, 5, 2, 4, 6]);
  assert.deepEqual(transpose2d(u8, 'x').shape, [2, 3]);
  assert.throws(() => transpose2d({ ...u8, shape: [6] }, 'one-d'), /one-d: expected a 2-D tensor/);

  const a = fromFloat32(new Float32Array([1, 2]), [1, 2]);
  const b = fromFloat32(new Float32Array([3, 4, 5, 6]), [2, 2]);
  const ab = concat0([a, b], ['a', 'b']);
  assert.deepEqual(ab.shape, [3, 2]);
  assert.deepEqual(values(ab), [1, 2, 3, 4, 5, 6]);
  assert.throws(
    () => concat0([a, fromFloat32(new Float32Array(3), [1, 3])], ['a', 'c']),
    /c: float32 \[1,3\] cannot be stacked with a/,
  );
  assert.throws(() => concat0([a, { ...a, dtype: 'float16' }], ['a', 'h']), /h: float16/);
});

// The reference direction, transformers' convert_clip_original_pytorch_to_hf.py: split in_proj into
// q, k, v (chunk(3, dim=0)), transpose the projections, rename the rest.
function openAiToHf(sd: StateDict): StateDict {
  const hf: StateDict = new Map();
  const rows = (t: RawTensor, part: number) => {
    const n = t.bytes.length / 3;
    return {
      dtype: t.dtype,
      shape: [t.shape[0]! / 3, ...t.shape.slice(1)],
      bytes: t.bytes.slice(part * n, (part + 1) * n),
    };
  };
  const names: [RegExp, string][] = [
    [/^visual\.conv1\.weight$/, 'vision_model.embeddings.patch_embedding.weight'],
    [/^visual\.class_embedding$/, 'vision_model.embeddings.class_embedding'],
    [/^visual\.positional_embedding$/, 'vision_model.embeddings.position_embedding.weight'],
    [/^visual\.ln_pre\.(\w+)$/, 'vision_model.pre_layrnorm.$1'],
    [/^visual\.ln_post\.(\w+)$/, 'vision_model.post_layernorm.$1'],
    [/^token_embedding\.weight$/, 'text_model.embeddings.token_embedding.weight'],
    [/^positional_embedding$/, 'text_model.embeddings.position_embedding.weight'],
    [/^ln_final\.(\w+)$/, 'text_model.final_layer_norm.$1'],
    [/^logit_scale$/, 'logit_scale'],
  ];
  for (const [key, t] of sd) {
    const layer = /^(visual\.)?transformer\.resblocks\.(\d+)\.(.+)$/.exec(key);
    if (layer) {
      const prefix = `${layer[1] ? 'vision_model' : 'text_model'}.encoder.layers.${layer[2]}`;
      const inProj = /^attn\.in_proj_(weight|bias)$/.exec(layer[3]!);
      if (inProj) ['q', 'k', 'v'].forEach((x, i) => hf.set(`${prefix}.self_attn.${x}_proj.${inProj[1]}`, rows(t, i)));
      else {
        hf.set(
          `${prefix}.${layer[3]!
            .replace('ln_1', 'layer_norm1')
            .replace('ln_2', 'layer_norm2')
            .replace('mlp.c_fc', 'mlp.fc1')
            .replace('mlp.c_proj', 'mlp.fc2')
            .replace('attn.out_proj', 'self_attn.out_proj')}`,
          t,
        );
      }
    } else if (key === 'visual.proj') hf.set('visual_projection.weight', transpose2d(t, key));
    else if (key === 'text_projection') hf.set('text_projection.weight', transpose2d(t, key));
    else {
      const rule = names.find(([re]) => re.test(key));
      assert.ok(rule, `no HF name for ${key}`);
      hf.set(key.replace(rule[0], rule[1]), t);
    }
  }
  return hf;
}

test('reference vit-tiny: OpenAI → HF (conversion script) → canonical is the identity, byte for byte', {
  skip: needsFixtures(OPENAI_FIXTURES),
}, () => {
  const original = readSafetensors(join(OPENAI_FIXTURES, 'models', 'vit-tiny.safetensors')).tensors;
  const back = toCanonical(openAiToHf(original));
  assert.deepEqual(new Set(back.keys()), new Set(original.keys()));
  for (const [key, t] of original) {
    const b = back.get(key)!;
    assert.equal(b.dtype, t.dtype, key);
    assert.deepEqual(b.shape, t.shape, key);
    assert.deepEqual(b.bytes, t.bytes, key);
  }
});
