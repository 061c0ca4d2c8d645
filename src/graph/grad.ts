// Reverse-mode automatic differentiation over the IR: `grad` appends to a graph the nodes that
// compute d(loss)/d(param) for the given parameters, using the vector-Jacobian rules of vjp.ts.
// The forward nodes are already in topological order (a node is added after its inputs), so one
// backward sweep over them visits every node after all the nodes that consume its outputs.

import { GraphError } from '../errors.js';
import type { Graph, Value } from './ir.js';
import { VJP } from './vjp.js';

const isFloat = (v: Value): boolean => v.dtype === 'float32' || v.dtype === 'float64' || v.dtype === 'float16';

/**
 * Appends the backward pass of `loss` (a one-element value) to `graph` and returns the gradient
 * of the loss with respect to each of `params`, in order, shaped like it (zeros for a parameter
 * the loss does not depend on). Only nodes between the parameters and the loss are differentiated.
 */
export function grad(graph: Graph, loss: Value, params: readonly Value[]): Value[] {
  if (loss.graph !== graph) throw new GraphError('grad: the loss belongs to another graph');
  if (loss.shape.some((d) => d !== 1))
    throw new GraphError(`grad: the loss must have one element, got shape [${loss.shape.join(', ')}]`);

  // Values that depend on a parameter (only those need gradients).
  const active = new Set(params.map((p) => p.id));
  for (const node of graph.nodes) {
    if (node.inputs.some((x) => active.has(x.id))) for (const y of node.outputs) if (isFloat(y)) active.add(y.id);
  }

  const grads = new Map<number, Value>();
  const accumulate = (v: Value, g: Value) => {
    const prev = grads.get(v.id);
    grads.set(v.id, prev ? prev.add(g) : g);
  };
  const lossIndex = graph.nodes.findIndex((n) => n.outputs.includes(loss));
  grads.set(loss.id, graph.constant(Float32Array.of(1), loss.shape));

  for (const node of graph.nodes.slice(0, lossIndex + 1).reverse()) {
    const needs = node.inputs.map((x) => active.has(x.id));
    if (!needs.some(Boolean)) continue;
    const [output] = node.outputs;
    if (!output || node.outputs.length !== 1)
      throw new GraphError(`grad: ${node.op} has ${node.outputs.length} outputs; rules handle one`);
    const g = grads.get(output.id);
    if (!g) continue; // does not reach the loss
    const rule = VJP[node.op];
    if (!rule) throw new GraphError(`grad: no gradient rule for ${node.op}`);
    const inputGrads = rule(node, g, needs);
    node.inputs.forEach((x, j) => {
      const gx = inputGrads[j];
      if (needs[j] && gx) accumulate(x, gx);
    });
  }
  return params.map((p) => grads.get(p.id) ?? p.mul(0));
}
