// The canonical key names: the OpenAI reference's clip/model.py module names, which models/ uses.
// Written as a grammar so adapters can reject a key models/ would not know, by name.

const LAYER_NORM = String.raw`(weight|bias)`;
const BATCH_NORM = String.raw`(weight|bias|running_mean|running_var|num_batches_tracked)`;
const RESBLOCK =
  String.raw`transformer\.resblocks\.\d+\.(attn\.(in_proj_weight|in_proj_bias|out_proj\.(weight|bias))|` +
  String.raw`ln_[12]\.${LAYER_NORM}|mlp\.(c_fc|c_proj)\.(weight|bias))`;

const CANONICAL = new RegExp(
  '^(' +
    [
      // text tower and the shared parts
      String.raw`token_embedding\.weight|positional_embedding|text_projection|ln_final\.${LAYER_NORM}|logit_scale`,
      RESBLOCK,
      // scalars the official TorchScript archives carry (the reference's build_model drops them)
      'input_resolution|context_length|vocab_size',
      // VisionTransformer
      String.raw`visual\.(conv1\.weight|class_embedding|positional_embedding|proj|ln_(pre|post)\.${LAYER_NORM})`,
      String.raw`visual\.${RESBLOCK}`,
      // ModifiedResNet
      String.raw`visual\.(conv[123]\.weight|bn[123]\.${BATCH_NORM})`,
      String.raw`visual\.layer[1-4]\.\d+\.(conv[123]\.weight|bn[123]\.${BATCH_NORM}|` +
        String.raw`downsample\.0\.weight|downsample\.1\.${BATCH_NORM})`,
      String.raw`visual\.attnpool\.(positional_embedding|[qkvc]_proj\.(weight|bias))`,
    ].join('|') +
    ')$',
);

export function isCanonicalKey(key: string): boolean {
  return CANONICAL.test(key);
}
