// End-to-end parity: the whole user path (load → preprocess the image files → tokenize the
// captions → forward) against the reference logits, so decoding, resizing, tokenizing and the
// model are checked together, not only each on the reference's own intermediate inputs.

import { entry } from '../checked.js';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from '../load.js';
import { toFloat32 } from '../tensor.js';
import { readSafetensors } from '../weights/safetensors.js';
import { compareArrays, metadataList, type Check } from './check.js';

const LOGIT_TOL = 1e-3;

/**
 * Image paths: OpenAI outputs list file names (`image_order`); Chinese-CLIP ones list names (`images`) that
 * manifest.json maps to files.
 */
function imageFiles(dir: string, metadata: Record<string, string>, outputs: string): string[] {
  if (metadata.image_order) return (JSON.parse(metadata.image_order) as string[]).map((f) => join(dir, 'images', f));
  const listed = (
    JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { images: { name: string; file: string }[] }
  ).images;
  const byName = new Map(listed.map((i) => [i.name, i.file]));
  return metadataList(metadata, 'images', outputs).map((n) => join(dir, byName.get(n) ?? n));
}

/** OpenAI fixtures bring the BPE merges file, Chinese-CLIP ones the BERT vocab.txt. */
export async function pipelineChecks(dir: string): Promise<Check[]> {
  const modelsDir = join(dir, 'models');
  const bpePath = join(dir, 'bpe_simple_vocab_16e6.txt.gz');
  const vocabPath = join(dir, 'vocab.txt');
  if (!existsSync(modelsDir) || !existsSync(join(dir, 'images')) || !(existsSync(bpePath) || existsSync(vocabPath)))
    return [];
  const checks: Check[] = [];
  for (const file of readdirSync(modelsDir)
    .filter((f) => /\.(pt|safetensors)$/.test(f))
    .sort()) {
    const name = `${file} files → logits_per_image`;
    try {
      const outputs = join(dir, 'outputs', `${file.split('.')[0]}.safetensors`);
      if (!existsSync(outputs)) continue;
      const { tensors: ref, metadata } = readSafetensors(outputs);
      const order = imageFiles(dir, metadata, outputs);
      const captions = metadataList(metadata, 'captions', outputs);
      const clip = await load(join(modelsDir, file), existsSync(bpePath) ? { bpePath } : { vocabPath });
      const { tensor, failures } = await clip.preprocessBatch(order, { concurrency: 1 });
      if (failures.length) throw new Error(`could not preprocess ${failures.map((f) => order[f.index]).join(', ')}`);
      const { logitsPerImage } = await clip.model.forward(tensor, clip.tokenize(captions, { truncate: true }));
      await clip.model.release();
      const { maxAbs, maxRel } = compareArrays(logitsPerImage.data, toFloat32(entry(ref, 'logits_per_image')));
      checks.push({
        group: 'pipeline',
        name,
        passed: maxAbs <= LOGIT_TOL,
        maxAbs,
        maxRel,
        detail: `${order.length} image files × ${captions.length} captions, tol ${LOGIT_TOL}`,
      });
    } catch (e) {
      checks.push({ group: 'pipeline', name, passed: false, detail: `failed: ${(e as Error).message}` });
    }
  }
  return checks;
}
