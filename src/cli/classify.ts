// `clip classify`: zero-shot classification of images against labels.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { embedImages, expandImagePaths } from '../embed.js';
import { load } from '../load.js';
import { CHINESE_SINGLE_TEMPLATE, CHINESE_TEMPLATES, DEFAULT_TEMPLATES, SINGLE_TEMPLATE } from '../zeroshot/templates.js';
import { zeroShotClassifier } from '../zeroshot/classifier.js';
import { loadOptions, modelOptions } from './options.js';

export function registerClassify(program: Command): void {
  modelOptions(program.command('classify').description('zero-shot classification of images against labels'))
    .argument('<images...>', 'image files or folders of images')
    .requiredOption('-l, --labels <labels>', 'comma-separated labels, e.g. "a dog,a cat,a diagram"')
    .option('--templates <file>', 'prompt templates, one per line with {} for the label (default: a 7-prompt ensemble; Chinese prompts for Chinese-CLIP)')
    .option('--template <template...>', 'prompt template(s) given inline, e.g. "a photo of a {}." or "一张{}的照片"')
    .option('--json', 'print one JSON line per image: {"image", "predictions": [{"label", "probability"}]}')
    .option('--single-prompt', 'use only the reference prompt "a photo of a {}." ("{}的照片。" for Chinese-CLIP)')
    .option('-k, --top <k>', 'labels to print per image', (v) => Number.parseInt(v, 10), 5)
    .action(async (images: string[], o: Record<string, unknown>) => {
      const clip = await load(o.model as string, loadOptions(o));
      const chinese = clip.model.config.text.kind === 'bert';
      const labels = (o.labels as string).split(',').map((l) => l.trim()).filter(Boolean);
      const templates = o.template ? (o.template as string[])
        : o.templates ? readFileSync(o.templates as string, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean)
        : chinese ? (o.singlePrompt ? CHINESE_SINGLE_TEMPLATE : CHINESE_TEMPLATES)
        : o.singlePrompt ? SINGLE_TEMPLATE : DEFAULT_TEMPLATES;
      const classifier = await zeroShotClassifier(clip.model, (t) => clip.tokenize(t, { truncate: true }), labels, { templates });
      for await (const { embeddings, failures } of embedImages(clip, expandImagePaths(images))) {
        for (const f of failures) { console.error(`skipped: ${f.error.message}`); process.exitCode = 1; }
        if (!embeddings.length) continue;
        const d = embeddings[0]!.embedding.length;
        const features = new Float32Array(embeddings.length * d);
        embeddings.forEach((e, row) => features.set(e.embedding, row * d));
        const predictions = await classifier.classify({ data: features, shape: [embeddings.length, d] }, o.top as number);
        embeddings.forEach((e, row) => {
          if (o.json) { console.log(JSON.stringify({ image: e.input, predictions: predictions[row] })); return; }
          console.log(e.input);
          for (const p of predictions[row]!) console.log(`  ${(100 * p.probability).toFixed(2).padStart(6)}%  ${p.label}`);
        });
      }
      await clip.model.release();
    });
}
