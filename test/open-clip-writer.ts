// Writes random-weight models the way the open_clip library stores them, for tests: a hub folder
// (open_clip_config.json + open_clip_pytorch_model.bin, a torch.save zip) and a training
// checkpoint (epoch_N.pt: {epoch, name, state_dict with `module.` keys, optimizer}).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClipConfig } from '../src/models/config.js';
import { randomStateDict } from '../src/models/random.js';
import type { StateDict } from '../src/tensor.js';
import { pickle, type PickleValue } from '../src/weights/pickle-writer.js';
import { stateDictValue, writeTorchZip, writeTorchZipEntries } from '../src/weights/torch-writer.js';

/** open_clip's `model_cfg` for a ViT config with the given head width (sizes as open_clip's keys). */
export function modelCfgOf(cfg: ClipConfig, headWidth: number, mlpRatio = 4): Record<string, unknown> {
  if (cfg.vision.kind !== 'vit' || cfg.text.kind !== 'transformer') throw new Error('a ViT + text transformer config');
  const { vision, text } = cfg;
  return {
    embed_dim: cfg.embedDim,
    ...(cfg.activation === 'quick_gelu' ? { quick_gelu: true } : {}),
    vision_cfg: {
      image_size: vision.imageResolution,
      layers: vision.layers,
      width: vision.width,
      head_width: headWidth,
      patch_size: vision.patchSize,
      mlp_ratio: mlpRatio,
    },
    text_cfg: {
      context_length: text.contextLength,
      vocab_size: text.vocabSize,
      width: text.width,
      heads: text.heads,
      layers: text.layers,
      mlp_ratio: mlpRatio,
    },
  };
}

/** A hub folder at `dir`: the config file and the weights of `randomStateDict(cfg, seed)`; returns the weights. */
export async function writeHubFolder(
  dir: string,
  cfg: ClipConfig,
  modelCfg: Record<string, unknown>,
  seed: number,
): Promise<StateDict> {
  mkdirSync(dir, { recursive: true });
  const sd = randomStateDict(cfg, seed);
  writeFileSync(
    join(dir, 'open_clip_config.json'),
    JSON.stringify({ model_cfg: modelCfg, preprocess_cfg: { interpolation: 'bicubic', resize_mode: 'shortest' } }),
  );
  await writeTorchZip(join(dir, 'open_clip_pytorch_model.bin'), sd);
  return sd;
}

/** What open_clip_train saves after an epoch, for the weights `sd`. */
export async function writeTrainingCheckpoint(path: string, sd: StateDict): Promise<void> {
  const { value, storages } = stateDictValue(new Map([...sd].map(([k, t]) => [`module.${k}`, t])));
  const optimizer = new Map<string, PickleValue>([
    ['state', new Map()],
    ['param_groups', []],
  ]);
  const checkpoint = new Map<string, PickleValue>([
    ['epoch', 1],
    ['name', 'run'],
    ['state_dict', value],
    ['optimizer', optimizer],
  ]);
  await writeTorchZipEntries(path, pickle(checkpoint), storages, 'epoch_1');
}
