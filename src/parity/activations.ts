// The reference activations (`act.*` in the fixtures, read with forward hooks on the reference's
// modules) and where each one is in our graphs. The towers record every submodule call
// (Params.module, the graph's moduleCalls); this list names the ones to compare. Rules:
// - a module's output is its call's output; a module called twice (the full and the pruned last
//   block, ln_final over all positions then over the end tokens) is told apart by call index;
// - a value the reference computes inline, outside any module, is read at a module boundary (the
//   input of the module that consumes it) or rebuilt here from the graph's input or output.

import { GraphError } from '../errors.js';
import type { Graph, Value } from '../graph/ir.js';
import type { ClipConfig } from '../models/config.js';

/** Where an activation is: a module call's output (or input), or a value built from the graph. */
type Tap = { module: string; call?: number; input?: true } | { build: (g: Graph) => Value };

const output = (module: string, call = 0): Tap => ({ module, call });

function graphInput(g: Graph, name: string): Value {
  const input = g.inputs.find((i) => i.name === name);
  if (!input) throw new GraphError(`the graph has no input "${name}"`);
  return input.value;
}

function graphOutput(g: Graph, name: string): Value {
  const out = g.outputs.find((o) => o.name === name);
  if (!out) throw new GraphError(`the graph has no output "${name}"`);
  return out.value;
}

/** The image tower's activations, by reference name. */
function imageTaps(cfg: ClipConfig): Record<string, Tap> {
  const taps: Record<string, Tap> = { 'act.visual.output': { build: (g) => graphOutput(g, 'image_features') } };
  const vision = cfg.vision;
  if (vision.kind === 'vit') {
    Object.assign(taps, {
      'act.visual.conv1': output('visual.conv1'),
      'act.visual.embeddings': { module: 'visual.ln_pre', input: true },
      'act.visual.ln_pre': output('visual.ln_pre'),
      'act.visual.ln_post': output('visual.ln_post'),
    });
    for (let i = 0; i < vision.layers; i++)
      taps[`act.visual.transformer.resblocks.${i}`] = output(`visual.transformer.resblocks.${i}`);
    taps[`act.visual.transformer.resblocks.${vision.layers - 1}.pooled`] = output(
      `visual.transformer.resblocks.${vision.layers - 1}`,
      1,
    );
  } else {
    for (const name of ['relu1', 'relu2', 'relu3', 'avgpool', 'attnpool'])
      taps[`act.visual.${name}`] = output(`visual.${name}`);
    vision.layers.forEach((blocks, stage) => {
      for (let i = 0; i < blocks; i++)
        taps[`act.visual.layer${stage + 1}.${i}`] = output(`visual.layer${stage + 1}.${i}`);
    });
  }
  return taps;
}

/** The text tower's activations, by reference name. */
function textTaps(cfg: ClipConfig): Record<string, Tap> {
  const last = cfg.text.layers - 1;
  const taps: Record<string, Tap> = {};
  if (cfg.text.kind === 'bert') {
    taps['act.text.embeddings'] = output('bert.embeddings');
    for (let i = 0; i <= last; i++) taps[`act.text.layer.${i}`] = output(`bert.encoder.layer.${i}`);
    taps['act.text.cls'] = output(`bert.encoder.layer.${last}`, 1);
    return taps;
  }
  taps['act.text.token_embedding'] = output('token_embedding');
  for (let i = 0; i <= last; i++) taps[`act.text.resblocks.${i}`] = output(`transformer.resblocks.${i}`);
  taps[`act.text.resblocks.${last}.pooled`] = output(`transformer.resblocks.${last}`, 1);
  taps['act.text.ln_final'] = output('ln_final');
  taps['act.text.pooled'] = output('ln_final', 1);
  taps['act.text.eot_index'] = { build: (g) => graphInput(g, 'tokens').argmax(-1) };
  return taps;
}

function find(g: Graph, name: string, tap: Tap): Value {
  if ('build' in tap) return tap.build(g);
  const call = g.moduleCalls.get(tap.module)?.[tap.call ?? 0];
  if (!call) throw new GraphError(`${name}: the graph has no call ${tap.call ?? 0} of module "${tap.module}"`);
  return tap.input ? call.input : call.output;
}

/**
 * Adds every reference activation of a tower graph (built by models/clip.ts for `cfg`) as a graph
 * output named as in the fixtures (`act.visual.ln_pre`, ...), and returns the graph.
 */
export function withActivations(g: Graph, cfg: ClipConfig): Graph {
  const image = g.inputs.some((i) => i.name === 'images');
  for (const [name, tap] of Object.entries(image ? imageTaps(cfg) : textTaps(cfg))) g.output(name, find(g, name, tap));
  return g;
}
