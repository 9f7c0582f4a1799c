#!/usr/bin/env bash
# Pack the WebGPU GPU check for the GPU machine into .gpu/web/ (git-ignored): the compiled test/gpu files,
# the built-in .tile files, the runtime dependencies (fast-check, chevrotain, Dawn's `webgpu` for linux-x64
# only) and this machine's Node. On the GPU machine: unpack, install the Vulkan loader (.gl, see
# /work/.library/device/README.md) and run `node --test .../test/device/webgpu.gpu.js`.
set -euo pipefail
out=.gpu/web
rm -rf "$out" && mkdir -p "$out/stage"
npx tsc -p scripts/gpu/tsconfig.json --outDir "$out/stage/dist"
echo '{"type": "module"}' > "$out/stage/dist/package.json"
mkdir -p "$out/stage/dist/patterns" "$out/stage/dist/node_modules/webgpu/dist"
cp patterns/*.tile "$out/stage/dist/patterns/"
cp -r node_modules/fast-check node_modules/pure-rand node_modules/chevrotain node_modules/@chevrotain \
  node_modules/lodash-es "$out/stage/dist/node_modules/"
cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$out/stage/dist/node_modules/webgpu/"
cp -r node_modules/webgpu/dist/linux-x64 "$out/stage/dist/node_modules/webgpu/dist/"
tar -C "$out/stage" -cJf "$out/dist.tar.xz" dist
rm -rf "$out/stage"
if [ -f .gpu/bundle/node.xz ]; then cp .gpu/bundle/node.xz "$out/"; else xz -T2 -c "$(command -v node)" > "$out/node.xz"; fi
du -sh "$out"/*
