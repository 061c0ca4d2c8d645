// open_clip checkpoints without fixtures: open_clip_config.json read fully (heads from head_width,
// text heads, MLP ratio, activation, transform), every setting we do not implement refused with
// its key named, hub folders and training checkpoints (epoch_N.pt + a config) opened by load(),
// and open_clip's tokenizer names for the special tokens.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ConfigError } from '../src/errors.js';
import { load } from '../src/load.js';
import { CLIP } from '../src/inference/clip.js';
import { inferConfigFromStateDict, type ClipConfig } from '../src/models/config.js';
import { randomStateDict } from '../src/models/random.js';
import { openClipSettings } from '../src/models/open-clip-config.js';
import { OPEN_CLIP_SPECIAL_TOKENS, Tokenizer } from '../src/text/index.js';
import { modelCfgOf, writeHubFolder, writeTrainingCheckpoint } from './open-clip-writer.js';

// The two model_cfg of ../shared/fixtures/open-clip (written by open_clip), and the heads its README derives.
const VIT_GELU = {
  embed_dim: 40,
  vision_cfg: { image_size: 48, layers: 2, width: 96, head_width: 48, patch_size: 12 },
  text_cfg: { context_length: 77, vocab_size: 49408, width: 64, heads: 4, layers: 2 },
};
const RN_QUICKGELU = {
  embed_dim: 24,
  quick_gelu: true,
  vision_cfg: { image_size: 64, layers: [1, 1, 1, 1], width: 16, head_width: 32, patch_size: null },
  text_cfg: { context_length: 77, vocab_size: 49408, width: 64, heads: 2, layers: 1 },
};

test('model_cfg: ViT heads = width / head_width, ResNet pool heads = width·32 / head_width, text heads given', () => {
  const vit = openClipSettings({ model_cfg: VIT_GELU }, 'vit.json');
  assert.equal(vit.overrides.visionHeads, 2);
  assert.equal(vit.overrides.textHeads, 4);
  assert.equal(vit.overrides.activation, 'gelu'); // quick_gelu absent: nn.GELU
  const rn = openClipSettings({ model_cfg: RN_QUICKGELU }, 'rn.json');
  assert.equal(rn.overrides.visionHeads, 16);
  assert.equal(rn.overrides.textHeads, 2);
  assert.equal(rn.overrides.activation, 'quick_gelu');
  // Absent keys take open_clip's dataclass defaults: text heads 8, head width 64.
  const defaults = openClipSettings({
    model_cfg: {
      embed_dim: 512,
      vision_cfg: { width: 1280, head_width: 80, layers: 32, patch_size: 14 },
      text_cfg: { width: 1024, layers: 24 },
    },
  });
  assert.equal(defaults.overrides.visionHeads, 16); // ViT-H-14
  assert.equal(defaults.overrides.textHeads, 8);
  assert.deepEqual(defaults.preprocess, {
    mean: [0.48145466, 0.4578275, 0.40821073],
    std: [0.26862954, 0.26130258, 0.27577711],
    resizeMode: 'shortest-side-crop',
  });
  const squash = openClipSettings({
    model_cfg: VIT_GELU,
    preprocess_cfg: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], resize_mode: 'squash' },
  });
  assert.deepEqual(squash.preprocess, { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], resizeMode: 'square' });
});

// Each setting of open_clip that our towers do not implement, with the key the error must name.
const REFUSED: [string, (cfg: typeof VIT_GELU & Record<string, unknown>) => unknown, string][] = [
  [
    'HF text tower',
    (c) => ({ ...c, text_cfg: { ...c.text_cfg, hf_model_name: 'roberta-base' } }),
    'model_cfg.text_cfg.hf_model_name',
  ],
  [
    'HF tokenizer',
    (c) => ({ ...c, text_cfg: { ...c.text_cfg, hf_tokenizer_name: 'timm/ViT-B-16-SigLIP' } }),
    'model_cfg.text_cfg.hf_tokenizer_name',
  ],
  [
    'canonicalizing tokenizer',
    (c) => ({ ...c, text_cfg: { ...c.text_cfg, tokenizer_kwargs: { clean: 'canonicalize' } } }),
    'model_cfg.text_cfg.tokenizer_kwargs',
  ],
  [
    'timm image tower',
    (c) => ({ ...c, vision_cfg: { ...c.vision_cfg, timm_model_name: 'convnext_base' } }),
    'model_cfg.vision_cfg.timm_model_name',
  ],
  [
    'attentional pool',
    (c) => ({ ...c, vision_cfg: { ...c.vision_cfg, attentional_pool: true } }),
    'model_cfg.vision_cfg.attentional_pool',
  ],
  [
    'average-pooled ViT',
    (c) => ({ ...c, vision_cfg: { ...c.vision_cfg, pool_type: 'avg' } }),
    'model_cfg.vision_cfg.pool_type',
  ],
  [
    'ViT token outputs',
    (c) => ({ ...c, vision_cfg: { ...c.vision_cfg, output_tokens: true } }),
    'model_cfg.vision_cfg.output_tokens',
  ],
  [
    'layer scale',
    (c) => ({ ...c, vision_cfg: { ...c.vision_cfg, ls_init_value: 1e-5 } }),
    'model_cfg.vision_cfg.ls_init_value',
  ],
  ['no ln_pre', (c) => ({ ...c, vision_cfg: { ...c.vision_cfg, no_ln_pre: true } }), 'model_cfg.vision_cfg.no_ln_pre'],
  [
    'final LN after pool',
    (c) => ({ ...c, vision_cfg: { ...c.vision_cfg, final_ln_after_pool: true } }),
    'model_cfg.vision_cfg.final_ln_after_pool',
  ],
  [
    'sin-cos positions',
    (c) => ({ ...c, vision_cfg: { ...c.vision_cfg, pos_embed_type: 'sin_cos_2d' } }),
    'model_cfg.vision_cfg.pos_embed_type',
  ],
  [
    'tanh GELU',
    (c) => ({ ...c, vision_cfg: { ...c.vision_cfg, act_kwargs: { approximate: 'tanh' } } }),
    'model_cfg.vision_cfg.act_kwargs',
  ],
  [
    'LayerNorm eps',
    (c) => ({ ...c, text_cfg: { ...c.text_cfg, norm_kwargs: { eps: 1e-6 } } }),
    'model_cfg.text_cfg.norm_kwargs',
  ],
  ['qk norm', (c) => ({ ...c, vision_cfg: { ...c.vision_cfg, qk_norm: true } }), 'model_cfg.vision_cfg.qk_norm'],
  [
    'last-token text pooling',
    (c) => ({ ...c, text_cfg: { ...c.text_cfg, pool_type: 'last' } }),
    'model_cfg.text_cfg.pool_type',
  ],
  [
    'no causal mask',
    (c) => ({ ...c, text_cfg: { ...c.text_cfg, no_causal_mask: true } }),
    'model_cfg.text_cfg.no_causal_mask',
  ],
  [
    'text projection bias',
    (c) => ({ ...c, text_cfg: { ...c.text_cfg, proj_bias: true } }),
    'model_cfg.text_cfg.proj_bias',
  ],
  ['CoCa class token', (c) => ({ ...c, text_cfg: { ...c.text_cfg, embed_cls: true } }), 'model_cfg.text_cfg.embed_cls'],
  [
    'modern text tower',
    (c) => ({ ...c, text_cfg: { ...c.text_cfg, text_arch: 'modern' } }),
    'model_cfg.text_cfg.text_arch',
  ],
  ['SigLIP logit bias', (c) => ({ ...c, init_logit_bias: -10 }), 'model_cfg.init_logit_bias'],
  ['CoCa decoder', (c) => ({ ...c, multimodal_cfg: { width: 512 } }), 'model_cfg.multimodal_cfg'],
  [
    'non-square input',
    (c) => ({ ...c, vision_cfg: { ...c.vision_cfg, image_size: [48, 64] } }),
    'model_cfg.vision_cfg.image_size',
  ],
  [
    'unknown key',
    (c) => ({ ...c, vision_cfg: { ...c.vision_cfg, new_fancy_thing: 1 } }),
    'model_cfg.vision_cfg.new_fancy_thing',
  ],
];

for (const [what, edit, key] of REFUSED) {
  test(`refused with its key named: ${what} (${key})`, () => {
    assert.throws(
      () => openClipSettings({ model_cfg: edit(VIT_GELU) }, 'cfg.json'),
      (e: Error) => e instanceof ConfigError && e.message.startsWith(`cfg.json: ${key}`),
      key,
    );
  });
}

for (const [what, pp, key] of [
  ['bilinear resize', { interpolation: 'bilinear' }, 'preprocess_cfg.interpolation'],
  ['letterboxing', { resize_mode: 'longest' }, 'preprocess_cfg.resize_mode'],
] as const) {
  test(`refused with its key named: ${what} (${key})`, () => {
    assert.throws(
      () => openClipSettings({ model_cfg: VIT_GELU, preprocess_cfg: pp }, 'cfg.json'),
      (e: Error) => e instanceof ConfigError && e.message.startsWith(`cfg.json: ${key}`),
    );
  });
}

// A small ViT with 32-wide heads (2 vision, 2 text), MLP ratio 3 and exact GELU: nothing of it is the
// OpenAI default, so each of heads, MLP width and activation must come from the config.
const TINY: ClipConfig = {
  embedDim: 16,
  vision: { kind: 'vit', width: 64, layers: 1, heads: 2, patchSize: 8, imageResolution: 16, mlpWidth: 192 },
  text: { kind: 'transformer', width: 64, layers: 1, heads: 2, contextLength: 12, vocabSize: 515, mlpWidth: 192 },
  activation: 'gelu',
};
const images = {
  data: Float32Array.from({ length: 2 * 3 * 16 * 16 }, (_, i) => Math.sin(i * 0.7)),
  shape: [2, 3, 16, 16],
};
const tokens = {
  data: Int32Array.from([513, 5, 9, 300, 514, 0, 0, 0, 0, 0, 0, 0, 513, 77, 514, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
  shape: [2, 12],
};

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'clip-open-clip-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test(
  "a hub folder and a training checkpoint of it load with the config's heads, MLP width and " + 'activation',
  async () => {
    const hub = join(dir, 'hub');
    const sd = await writeHubFolder(hub, TINY, modelCfgOf(TINY, 32, 3), 4);
    const expected = new CLIP(sd, {}, TINY);
    const want = await expected.forward(images, tokens);
    await expected.release();

    const fromHub = await load(hub, { bpePath: writeMerges() });
    assert.deepEqual(fromHub.model.config, TINY);
    assert.deepEqual((await fromHub.model.forward(images, tokens)).logitsPerImage, want.logitsPerImage);
    await fromHub.model.release();

    // open_clip_train's epoch_N.pt alone is read by OpenAI's rules (heads = width / 64, QuickGELU): other features …
    const run = join(dir, 'run');
    mkdirSync(run);
    await writeTrainingCheckpoint(join(run, 'epoch_1.pt'), sd);
    const alone = await load(join(run, 'epoch_1.pt'));
    assert.deepEqual(
      [alone.model.config.vision.heads, alone.model.config.text.heads, alone.model.config.activation],
      [1, 1, 'quick_gelu'],
    );
    const wrong = (await alone.model.forward(images, tokens)).logitsPerImage;
    assert.ok(wrong.data.some((v, i) => Math.abs(v - want.logitsPerImage.data[i]!) > 1e-3));
    await alone.model.release();
    // … so it is opened with the hub folder's config, given or beside it.
    for (const options of [{ config: join(hub, 'open_clip_config.json') }, {}]) {
      if (!('config' in options)) copyFileSync(join(hub, 'open_clip_config.json'), join(run, 'open_clip_config.json'));
      const clip = await load(join(run, 'epoch_1.pt'), options);
      assert.deepEqual(clip.model.config, TINY);
      assert.deepEqual((await clip.model.forward(images, tokens)).logitsPerImage, want.logitsPerImage);
      await clip.model.release();
    }
  },
);

test('a width that 64 does not divide needs the config for its heads', () => {
  const wide: ClipConfig = { ...TINY, vision: { ...TINY.vision, width: 96, heads: 2 } };
  assert.throws(
    () => inferConfigFromStateDict(randomStateDict(wide, 1)),
    (e: Error) =>
      e instanceof ConfigError && /vision attention width 96 gives 1.5 heads.*open_clip_config\.json/.test(e.message),
  );
  assert.equal(inferConfigFromStateDict(randomStateDict(wide, 1), { visionHeads: 2, textHeads: 2 }).vision.heads, 2);
});

test('a config of another model (sizes that disagree with the weights) is refused, naming the key', async () => {
  const hub = join(dir, 'mismatch');
  await writeHubFolder(hub, TINY, { ...modelCfgOf(TINY, 32, 3), embed_dim: 32 }, 5);
  await assert.rejects(
    load(hub),
    (e: Error) => e instanceof ConfigError && /model_cfg\.embed_dim is 32, but the weights give 16/.test(e.message),
  );
});

/** A merges file with one merge ("r e"): 512 byte symbols + 1 merge + start/end = 515 ids. */
function writeMerges(): string {
  const path = join(dir, 'bpe_simple_vocab_tiny.txt');
  writeFileSync(path, '#version: 0.2\nr e\n');
  return path;
}

test("open_clip's tokenizer: <start_of_text>/<end_of_text> are the special tokens, OpenAI's names are text", () => {
  const merges = '#version: 0.2\nr e\n';
  const openai = Tokenizer.fromMergesText(merges);
  const openClip = Tokenizer.fromMergesText(merges, OPEN_CLIP_SPECIAL_TOKENS);
  const [sot, eot] = [openai.sotToken, openai.eotToken];
  assert.deepEqual([openClip.sotToken, openClip.eotToken], [sot, eot]);
  const re = openai.encode('re');
  assert.deepEqual(openClip.encode('re <end_of_text>'), [...re, eot]);
  assert.deepEqual(openClip.encode('<START_of_text>'), [sot]); // lower-cased first, as the reference
  assert.deepEqual(openai.encode('re <|endoftext|>'), [...re, eot]);
  assert.ok(openClip.encode('<|endoftext|>').length > 1, "OpenAI's name is ordinary text to open_clip");
  assert.ok(openai.encode('<end_of_text>').length > 1);
  assert.equal(openClip.decode([sot, ...re, eot]), '<start_of_text>re <end_of_text>');
  // Truncation as open_clip's tokenizer: the first contextLength ids, the last one replaced by the end token.
  const row = openClip.tokenize('a b c d e f', { contextLength: 5, truncate: true });
  assert.deepEqual([...row.data], [sot, ...openClip.encode('a b c'), eot]);
});
