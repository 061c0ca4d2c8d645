// The model registry: reference names, URLs with their embedded checksums, Hugging Face repos.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../src/errors.js';
import { availableModels, BPE_FILE, canonicalModelName, HF_OPENAI_REPOS, resolveModel } from '../src/zoo/models.js';

test("availableModels lists the reference's nine models in its order", () => {
  assert.deepEqual(availableModels(), [
    'RN50',
    'RN101',
    'RN50x4',
    'RN50x16',
    'RN50x64',
    'ViT-B/32',
    'ViT-B/16',
    'ViT-L/14',
    'ViT-L/14@336px',
  ]);
});

test("official models: the SHA-256 is the URL's second-to-last segment, the cache name its last", () => {
  for (const name of availableModels()) {
    const source = resolveModel(name);
    assert.equal(source.kind, 'openai');
    if (source.kind !== 'openai') continue;
    const segments = source.weights.url.split('/');
    assert.match(
      source.weights.url,
      /^https:\/\/openaipublic\.azureedge\.net\/clip\/models\/[0-9a-f]{64}\/[\w-]+\.pt$/,
    );
    assert.equal(source.weights.sha256, segments.at(-2));
    assert.equal(source.weights.dest, segments.at(-1)); // same file name as the reference's ~/.cache/clip
    assert.equal(source.bpe, BPE_FILE);
  }
  // Spot checks against the reference's clip.py (slashes in names become dashes in files).
  const vitL336 = resolveModel('ViT-L/14@336px');
  assert.equal(vitL336.kind === 'openai' && vitL336.weights.dest, 'ViT-L-14-336px.pt');
  const rn50 = resolveModel('RN50');
  assert.equal(
    rn50.kind === 'openai' && rn50.weights.sha256,
    'afeb0e10f9e5a86da6080e35cf09123aca3b358a0c3e3b6c78a7b63bc04b6762',
  );
  assert.equal(
    new Set(
      availableModels().map((n) => {
        const s = resolveModel(n);
        return s.kind === 'openai' ? s.weights.sha256 : '';
      }),
    ).size,
    9,
    'every model has its own checksum',
  );
});

test('hf-hub: names give the CLIPModel files under resolve/main, cached per repository', () => {
  const source = resolveModel(`hf-hub:${HF_OPENAI_REPOS['ViT-L/14@336px']}`);
  assert.equal(source.kind, 'huggingface');
  if (source.kind !== 'huggingface') return;
  assert.equal(source.repo, 'openai/clip-vit-large-patch14-336');
  const base = 'https://huggingface.co/openai/clip-vit-large-patch14-336/resolve/main';
  assert.deepEqual(
    source.weights.map((f) => [f.url, f.dest, f.check]),
    [
      [`${base}/model.safetensors`, 'hf/openai/clip-vit-large-patch14-336/model.safetensors', 'safetensors'],
      [`${base}/pytorch_model.bin`, 'hf/openai/clip-vit-large-patch14-336/pytorch_model.bin', 'torch-zip'],
    ],
  );
  assert.equal(source.config.url, `${base}/config.json`);
  assert.equal(source.vocab.url, `${base}/vocab.json`);
  assert.equal(source.merges.url, `${base}/merges.txt`);
  assert.equal(source.merges.check, 'bpe-merges');
  assert.deepEqual(Object.values(HF_OPENAI_REPOS), [
    'openai/clip-vit-base-patch32',
    'openai/clip-vit-base-patch16',
    'openai/clip-vit-large-patch14',
    'openai/clip-vit-large-patch14-336',
  ]);
});

test('unknown names and malformed hf-hub names are InputErrors that list what is available', () => {
  assert.throws(
    () => resolveModel('ViT-Z-99'),
    (e: Error) =>
      e instanceof InputError && e.message.includes('"ViT-Z-99" not found') && e.message.includes('"ViT-L/14@336px"'),
  );
  for (const bad of ['hf-hub:', 'hf-hub:noslash', 'hf-hub:a/b/c', 'hf-hub:../x', 'hf-hub:a/..']) {
    assert.throws(() => resolveModel(bad), InputError, bad);
  }
});

test('names resolve forgivingly if unambiguous: any case, open_clip spelling, Hugging Face ids without hf-hub:', () => {
  const cases: [string, string][] = [
    ['vit-b/32', 'ViT-B/32'],
    ['ViT-B-32', 'ViT-B/32'],
    ['VIT-L-14-336', 'ViT-L/14@336px'],
    ['vit-l/14@336px', 'ViT-L/14@336px'],
    ['rn50x4', 'RN50x4'],
    ['cn-clip/vit-b-16', 'cn-clip/ViT-B-16'],
    ['openai/clip-vit-base-patch32', 'hf-hub:openai/clip-vit-base-patch32'],
    ['laion/CLIP-ViT-B-32-laion2B-s34B-b79K', 'hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K'],
  ];
  for (const [given, name] of cases) assert.equal(resolveModel(given).name, name, given);
  assert.equal(canonicalModelName('ViT-B/32'), 'ViT-B/32');
});

test('otherwise the closest name is suggested, and what looks like a path is "no such file"', () => {
  assert.throws(() => resolveModel('ViT-B/33'), /model "ViT-B\/33" not found; did you mean "ViT-B\/32"\?/);
  assert.throws(() => resolveModel('cn-clip/ViT-B-61'), /did you mean "cn-clip\/ViT-B-16"\?/);
  assert.throws(
    () => resolveModel('totally-unknown'),
    (e: Error) => !e.message.includes('did you mean'),
  );
  for (const path of ['./model.pt', '/models/x.safetensors', 'checkpoints/epoch_3.pt', 'a/b/c']) {
    assert.throws(
      () => resolveModel(path),
      (e: Error) =>
        e instanceof InputError &&
        e.message === `${path}: no such file (a model given as a path must exist; \`clip models\` lists the names)`,
    );
  }
});
