// What a compiled tower is to the rest of the code: a session that runs plain typed-array tensors.
// onnxruntime-node and onnxruntime-web share this API (onnxruntime-common), so one wrapper serves
// both; each binding passes its own Tensor class (the web bundle carries its own copy).

import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-common';
import { InputError } from '../errors.js';
import type { Tensor } from '../tensor.js';

export type TensorLike = Tensor<Float32Array | Int32Array | BigInt64Array | Uint8Array>;

/** A compiled graph, ready to run: the model only needs this of a runtime. */
export interface TowerSession {
  readonly inputNames: readonly string[];
  run(feeds: Record<string, TensorLike>, outputs?: string[]): Promise<Record<string, TensorLike>>;
  release(): Promise<void>;
}

type TensorClass = new (
  type: 'float32' | 'int32' | 'int64' | 'uint8',
  data: TensorLike['data'],
  dims: readonly number[],
) => OrtTensor;

export class OrtSession implements TowerSession {
  constructor(
    private readonly session: InferenceSession,
    private readonly TensorOf: TensorClass,
  ) {}

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  /** Runs the graph; returns the requested outputs (all by default) as plain tensors. */
  async run(feeds: Record<string, TensorLike>, outputs?: string[]): Promise<Record<string, TensorLike>> {
    for (const name of this.inputNames) if (!(name in feeds)) throw new InputError(`missing input "${name}"`);
    const ortFeeds: Record<string, OrtTensor> = {};
    for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = this.tensor(v);
    const result = outputs ? await this.session.run(ortFeeds, outputs) : await this.session.run(ortFeeds);
    const out: Record<string, TensorLike> = {};
    for (const [k, v] of Object.entries(result)) out[k] = { data: v.data as TensorLike['data'], shape: [...v.dims] };
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }

  private tensor(t: TensorLike): OrtTensor {
    const d = t.data;
    const type =
      d instanceof Float32Array
        ? 'float32'
        : d instanceof Int32Array
          ? 'int32'
          : d instanceof BigInt64Array
            ? 'int64'
            : 'uint8';
    return new this.TensorOf(type, d, t.shape);
  }
}
