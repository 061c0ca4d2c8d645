// Brute-force reference for search tests: every image's features from model.encodeImage, each
// caption's from model.encodeText, cosine in float64; and the check that a `clip search --json`
// answer is the top of that ranking with the same scores.
import assert from 'node:assert/strict';
import { expandImagePaths, load, type LoadedClip } from '../src/index.js';
import { runCli } from './search-helpers.js';

export function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0,
    aa = 0,
    bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

export async function imageFeatures(clip: LoadedClip, paths: readonly string[]): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const p of paths) {
    const x = await clip.preprocess(p);
    out.set(p, (await clip.model.encodeImage({ data: x.data, shape: [1, ...x.shape] })).data);
  }
  return out;
}

export async function textFeature(clip: LoadedClip, text: string): Promise<Float32Array> {
  return (await clip.model.encodeText(clip.tokenize([text], { truncate: true }))).data;
}

export { load };

/** `results` (best first, k of them) are the k best of `reference` (path → cosine), scores within 1e-5. */
export function assertTopK(
  results: { path: string; score: number }[],
  reference: Map<string, number>,
  k: number,
  label: string,
): void {
  assert.equal(results.length, Math.min(k, reference.size), `${label}: result count`);
  for (let i = 0; i < results.length; i++) {
    const { path, score } = results[i]!;
    assert.ok(reference.has(path), `${label}: ${path} is not an indexed image`);
    assert.ok(
      Math.abs(score - reference.get(path)!) <= 1e-5,
      `${label}: ${path} score ${score} vs brute force ${reference.get(path)}`,
    );
    if (i) assert.ok(results[i - 1]!.score >= score, `${label}: not sorted best first`);
  }
  const returned = new Set(results.map((r) => r.path));
  const last = results.at(-1)!.score;
  for (const [path, s] of reference) {
    if (!returned.has(path))
      assert.ok(s <= last + 1e-5, `${label}: ${path} (${s}) is missing above the last result (${last})`);
  }
}

/**
 * `clip index` of a folder into `db` with a checkpoint and its tokenizer file (`--bpe` or
 * `--vocab`), then the brute-force features of the same images from the library.
 */
export async function indexWithReference(
  db: string,
  images: string,
  model: string,
  tokenizer: ['--bpe' | '--vocab', string],
): Promise<{ clip: LoadedClip; features: Map<string, Float32Array>; summary: Record<string, number> }> {
  const r = runCli({}, 'index', images, '--db', db, '--model', model, ...tokenizer, '--json');
  assert.equal(r.status, 0, r.stderr);
  const clip = await load(model, tokenizer[0] === '--bpe' ? { bpePath: tokenizer[1] } : { vocabPath: tokenizer[1] });
  return {
    clip,
    features: await imageFeatures(clip, expandImagePaths([images])),
    summary: JSON.parse(r.stdout) as Record<string, number>,
  };
}
