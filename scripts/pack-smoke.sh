#!/usr/bin/env bash
# The package as a user gets it: `npm pack`, install the tarball in an empty project (CPU build of
# ONNX Runtime, no install-time downloads), then run the installed `clip` on a tiny random model.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tarball="$(npm pack --silent --pack-destination "$work" | tail -n 1)"
echo "packed $tarball ($(du -k "$work/$tarball" | cut -f1) KiB)"
cd "$work"
npm init -y >/dev/null
# onnxruntime-node's install script would fetch CUDA binaries on linux-x64 under npm 10; the
# variable (read by that script) keeps the install offline-safe. npm 11 does not run it at all.
ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --silent "./$tarball"
npx --no-install clip --help >/dev/null
# The search page `clip serve` serves is part of the package.
test -f node_modules/clip-ts/dist/ui/index.html && test -f node_modules/clip-ts/dist/ui/app.js
npx --no-install clip --version
# A tiny random ViT written through the package's own public API, a two-merge BPE file, one image.
cat > make-model.mjs <<'JS'
import { randomStateDict, writeSafetensors } from 'clip-ts';
import { writeFileSync } from 'node:fs';
import sharp from 'sharp';
const config = {
  embedDim: 8,
  activation: 'quick_gelu',
  vision: { kind: 'vit', width: 64, layers: 1, heads: 1, patchSize: 8, imageResolution: 16 },
  text: { kind: 'transformer', width: 64, layers: 1, heads: 1, contextLength: 16, vocabSize: 516 },
};
writeSafetensors('tiny.safetensors', randomStateDict(config, 1));
writeFileSync('merges.txt', '#version: tiny\nc a\nca t</w>\n');
await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 200, g: 30, b: 90 } } }).png().toFile('red.png');
JS
node make-model.mjs
npx --no-install clip classify red.png --labels "cat,dog" --template "{}" --model tiny.safetensors --bpe merges.txt --json
# `clip index` runs the model on a worker thread of its own (dist/src/model-thread.js).
mkdir photos && cp red.png photos/
npx --no-install clip index photos --db photos.db --model tiny.safetensors --bpe merges.txt --json
npx --no-install clip search "cat" --db photos.db -k 1 --json
echo "pack smoke test passed"
