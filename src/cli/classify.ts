// `clip classify`: zero-shot classification of images against labels.
// The model code (ONNX Runtime, sharp) is imported when the command runs, so that usage errors and
// --help answer without loading it.
import { at } from '../checked.js';
import { Option, type Command } from 'commander';
import {
  CHINESE_SINGLE_TEMPLATE,
  CHINESE_TEMPLATES,
  DEFAULT_TEMPLATES,
  SINGLE_TEMPLATE,
} from '../zeroshot/templates.js';
import { checkDevice } from './device.js';
import { imageList } from './images.js';
import { readListFile, requireDistinct } from './lists.js';
import { loadOptions, modelOptions, positiveInt, UsageError } from './options.js';
import { ImageProgress } from './progress.js';

/** Labels from --labels (comma-separated) and/or --labels-file (one per line, commas allowed). */
function labelsOf(o: Record<string, unknown>): string[] {
  const inline = o.labels
    ? (o.labels as string)
        .split(',')
        .map((l) => l.trim())
        .filter(Boolean)
    : [];
  const listed = o.labelsFile ? readListFile(o.labelsFile as string, '--labels-file').map((l) => l.trim()) : [];
  if (!o.labels && !o.labelsFile) throw new UsageError('give the labels with --labels "a,b,c" or --labels-file <file>');
  return requireDistinct([...inline, ...listed], 'labels');
}

function templatesOf(o: Record<string, unknown>, chinese: boolean): readonly string[] {
  const file = (o.templatesFile ?? o.templates) as string | undefined;
  if (o.template || file) {
    const inline = (o.template as string[] | undefined) ?? [];
    const templates = [...inline, ...(file ? readListFile(file, '--templates-file') : [])];
    const missing = templates.find((t) => !t.includes('{}'));
    if (missing !== undefined) {
      throw new UsageError(`template ${JSON.stringify(missing)} has no {} where the label goes`);
    }
    return requireDistinct(templates, 'templates');
  }
  if (chinese) return o.singlePrompt ? CHINESE_SINGLE_TEMPLATE : CHINESE_TEMPLATES;
  return o.singlePrompt ? SINGLE_TEMPLATE : DEFAULT_TEMPLATES;
}

export function registerClassify(program: Command): void {
  modelOptions(program.command('classify').description('zero-shot classification of images against labels'))
    .argument('[images...]', 'image files or folders of images')
    .option('--files-from <file>', 'also classify the images listed in this file, one path per line ("-": stdin)')
    .option('-l, --labels <labels>', 'comma-separated labels, e.g. "a dog,a cat,a diagram"')
    .option('--labels-file <file>', 'labels, one per line (may contain commas; "-": standard input)')
    .option(
      '--templates-file <file>',
      'prompt templates, one per line with {} for the label (default: a 7-prompt ensemble; Chinese ones for ' +
        'Chinese-CLIP)',
    )
    .addOption(new Option('--templates <file>', 'same as --templates-file').hideHelp())
    .option('--template <template...>', 'prompt template(s) given inline, e.g. "a photo of a {}." or "一张{}的照片"')
    .option('--single-prompt', 'use only the reference prompt "a photo of a {}." ("{}的照片。" for Chinese-CLIP)')
    .option('--truncate', 'cut prompts longer than the context instead of failing (as clip.tokenize(truncate=True))')
    .option('--json', 'print one JSON line per image: {"image", "predictions": [{"label", "probability"}]}')
    .option('-k, --top <k>', 'labels to print per image', positiveInt, 5)
    .addHelpText(
      'after',
      `
Examples:
  clip classify photo.jpg --labels "a dog,a cat,a diagram"
  clip classify photos/ --labels-file imagenet-classes.txt --single-prompt --json -k 1
  find . -name '*.jpg' | clip classify --files-from - --labels "indoor,outdoor"`,
    )
    .action(async (args: string[], o: Record<string, unknown>) => {
      const labels = labelsOf(o);
      const { images, problems } = imageList(args, o.filesFrom as string | undefined);
      if (!images.length && !problems.length) {
        throw new UsageError('no images to classify: give image files or folders, or --files-from');
      }
      checkDevice(o.device as string);
      const [{ load }, { embedImages }, { zeroShotClassifier }] = await Promise.all([
        import('../load.js'),
        import('../embed.js'),
        import('../zeroshot/classifier.js'),
      ]);
      const clip = await load(o.model as string, loadOptions(o));
      try {
        const templates = templatesOf(o, clip.model.config.text.kind === 'bert');
        const tokenize = (texts: readonly string[]) => clip.tokenize(texts, { truncate: Boolean(o.truncate) });
        const classifier = await zeroShotClassifier(clip.model, tokenize, labels, { templates });
        const progress = new ImageProgress(images.length + problems.length, 'classified');
        for (const problem of problems) progress.skip(problem);
        for await (const { embeddings, failures } of embedImages(clip, images)) {
          for (const f of failures) progress.skip(f.error.message);
          progress.advance(embeddings.length);
          if (!embeddings.length) continue;
          const d = at(embeddings, 0).embedding.length;
          const features = new Float32Array(embeddings.length * d);
          embeddings.forEach((e, row) => features.set(e.embedding, row * d));
          const batch = { data: features, shape: [embeddings.length, d] };
          const predictions = await classifier.classify(batch, o.top as number);
          embeddings.forEach((e, row) => {
            if (o.json) {
              console.log(JSON.stringify({ image: e.input, predictions: predictions[row] }));
              return;
            }
            console.log(e.input);
            for (const p of at(predictions, row)) {
              console.log(`  ${(100 * p.probability).toFixed(2).padStart(6)}%  ${p.label}`);
            }
          });
        }
        if (progress.finish()) process.exitCode = 1;
      } finally {
        await clip.model.release();
      }
    });
}
