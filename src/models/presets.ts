// Architectures of the official OpenAI checkpoints (what inferConfigFromStateDict gives for them),
// used to build random-weight models of the real sizes for benchmarks and tests.

import type { ClipConfig } from './config.js';

const text = (width: number) => ({
  kind: 'transformer' as const,
  width,
  layers: 12,
  heads: width / 64,
  contextLength: 77,
  vocabSize: 49408,
});
const vit = (width: number, layers: number, patchSize: number, imageResolution: number) => ({
  kind: 'vit' as const,
  width,
  layers,
  heads: width / 64,
  patchSize,
  imageResolution,
});
const resnet = (width: number, layers: [number, number, number, number], imageResolution: number) => ({
  kind: 'resnet' as const,
  width,
  layers,
  heads: (width * 32) / 64,
  imageResolution,
});

export const OFFICIAL_CONFIGS: Record<string, ClipConfig> = {
  RN50: { embedDim: 1024, vision: resnet(64, [3, 4, 6, 3], 224), text: text(512), activation: 'quick_gelu' },
  RN101: { embedDim: 512, vision: resnet(64, [3, 4, 23, 3], 224), text: text(512), activation: 'quick_gelu' },
  RN50x4: { embedDim: 640, vision: resnet(80, [4, 6, 10, 6], 288), text: text(640), activation: 'quick_gelu' },
  RN50x16: { embedDim: 768, vision: resnet(96, [6, 8, 18, 8], 384), text: text(768), activation: 'quick_gelu' },
  RN50x64: { embedDim: 1024, vision: resnet(128, [3, 15, 36, 10], 448), text: text(1024), activation: 'quick_gelu' },
  'ViT-B/32': { embedDim: 512, vision: vit(768, 12, 32, 224), text: text(512), activation: 'quick_gelu' },
  'ViT-B/16': { embedDim: 512, vision: vit(768, 12, 16, 224), text: text(512), activation: 'quick_gelu' },
  'ViT-L/14': { embedDim: 768, vision: vit(1024, 24, 14, 224), text: text(768), activation: 'quick_gelu' },
  'ViT-L/14@336px': { embedDim: 768, vision: vit(1024, 24, 14, 336), text: text(768), activation: 'quick_gelu' },
};
