// `--device cuda` on an install without onnxruntime-node's CUDA binaries: one clear line before
// anything starts, instead of ONNX Runtime's native error log.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** onnxruntime-node keeps its native libraries in bin/napi-v6/<platform>/<arch>/ of its package. */
function cudaProviderPath(): string {
  const packageJson = createRequire(import.meta.url).resolve('onnxruntime-node/package.json');
  const binaries = join(dirname(packageJson), 'bin', 'napi-v6', process.platform, process.arch);
  return join(binaries, 'libonnxruntime_providers_cuda.so');
}

export function checkDevice(device: string | undefined): void {
  if (device !== 'cuda') return;
  const provider = cudaProviderPath();
  if (!existsSync(provider)) {
    throw new Error(
      `--device cuda: this install of onnxruntime-node has no CUDA provider (${provider} is missing); ` +
        'see "GPU" in the README for installing it, or use --device cpu',
    );
  }
}
