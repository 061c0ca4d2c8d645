// Every committed WebAssembly kernel binary is what its .wat source compiles to.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ADAMW_WASM_BASE64 } from '../src/train/kernels/adamw-wasm.js';
import { RESAMPLE8_WASM_BASE64 } from '../src/image/kernels/resample8-wasm.js';
import { SCAN_WASM_BASE64 } from '../src/search/kernels/scan-wasm.js';
import { HALF_WASM_BASE64 } from '../src/wasm/half-wasm.js';
import { compileKernel, KERNELS, type KernelName } from '../src/wasm/generate.js';

const COMMITTED: Record<KernelName, string> = {
  resample8: RESAMPLE8_WASM_BASE64,
  adamw: ADAMW_WASM_BASE64,
  scan: SCAN_WASM_BASE64,
  half: HALF_WASM_BASE64,
};

for (const name of Object.keys(KERNELS) as KernelName[]) {
  test(`the committed ${name} binary is what ${name}.wat compiles to`, async () => {
    const compiled = await compileKernel(name);
    assert.equal(
      COMMITTED[name],
      Buffer.from(compiled).toString('base64'),
      `${name}-wasm.ts is stale: run \`npx tsc -p . && node dist/src/wasm/generate.js\``,
    );
  });
}
