// `clip quantize`: calibrates the int8 image tower's convolutions on real images and keeps the
// result in the compiled-model cache, where later `precision: 'int8'` loads of the same model
// find it (see inference/int8.ts). Prints how close the int8 features are to float32 on those images.
import { at } from '../checked.js';
import type { Command } from 'commander';
import { expandImagePaths } from '../embed.js';
import { InputError } from '../errors.js';
import { load } from '../load.js';
import type { Tensor } from '../tensor.js';
import { loadOptions, modelOptions, positiveInt } from './options.js';

/** Cosine similarity of each row of a and b ([N, D]). */
function rowCosines(a: Tensor, b: Tensor): number[] {
  const d = at(a.shape, 1);
  return Array.from({ length: at(a.shape, 0) }, (_, r) => {
    let ab = 0;
    let aa = 0;
    let bb = 0;
    for (let j = r * d; j < (r + 1) * d; j++) {
      ab += at(a.data, j) * at(b.data, j);
      aa += at(a.data, j) ** 2;
      bb += at(b.data, j) ** 2;
    }
    return ab / Math.sqrt(aa * bb);
  });
}

export function registerQuantize(program: Command): void {
  modelOptions(
    program
      .command('quantize')
      .description('calibrate the int8 image tower (convolutions too) on your images and keep it in the compiled cache')
      .addHelpText(
        'after',
        [
          '\nExample:\n  clip quantize -m RN50 photos/ --max-images 32',
          'Then every int8 load of that model (load("RN50", { precision: "int8" })) uses the calibrated tower.',
          'The first calibration of a model file is kept; remove <cache-dir>/compiled to calibrate again.',
        ].join('\n'),
      ),
  )
    .argument('<images...>', 'image files or folders of images (a few dozen typical photos are enough)')
    .option('--max-images <n>', 'calibrate on at most this many images', positiveInt, 32)
    .action(async (paths: string[], o: Record<string, unknown>) => {
      const files = expandImagePaths(paths).slice(0, o.maxImages as number);
      if (!files.length) throw new InputError(`no images found in ${paths.join(', ')}`);
      const options = { ...loadOptions(o), compiledCache: true };
      const fp32 = await load(o.model as string, options);
      const { tensor, failures } = await fp32.preprocessBatch(files);
      for (const f of failures) console.error(`skipped: ${f.error.message}`);
      if (!tensor.shape[0]) throw new InputError('none of the images could be read');
      const int8 = await load(o.model as string, { ...options, precision: 'int8', calibrationImages: tensor });
      const cosines = rowCosines(await fp32.model.encodeImage(tensor), await int8.model.encodeImage(tensor));
      const mean = cosines.reduce((a, b) => a + b, 0) / cosines.length;
      console.log(`calibrated on ${tensor.shape[0]} images; int8 image tower kept in the compiled cache`);
      const worst = Math.min(...cosines);
      console.log(`feature cosine int8 vs fp32 on these images: min ${worst.toFixed(4)}, mean ${mean.toFixed(4)}`);
      await Promise.all([fp32.model.release(), int8.model.release()]);
    });
}
