// Synchronous instantiation of a small committed WebAssembly kernel (see generate.ts).

// Node has WebAssembly, but the project's type library (ES2022 without DOM) does not declare it.
declare const WebAssembly: {
  Module: new (binary: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
};

/** The memory every kernel exports: grown in 64 KiB pages. */
export interface KernelMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

/** Compiles and instantiates a kernel binary given as base64 (no imports); returns its exports. */
export function instantiateKernel<Exports>(base64: string): Exports {
  // One compiled module per kernel: V8 moves a module's hot functions to optimised code after a
  // few calls, so later instances start fast instead of each running its first calls unoptimised.
  // (atob rather than Buffer: the browser build runs the same kernels.)
  let module = compiled.get(base64);
  if (!module)
    compiled.set(base64, (module = new WebAssembly.Module(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)))));
  return new WebAssembly.Instance(module, {}).exports as Exports;
}

const compiled = new Map<string, object>();
