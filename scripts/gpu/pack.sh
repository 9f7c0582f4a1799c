#!/usr/bin/env bash
# Pack what the GPU machine needs into .gpu/ (git-ignored): the compiled GPU tests and benchmark, the addon,
# the built-in .tile files, the runtime dependencies they load (fast-check; chevrotain for the front end), and
# this machine's Node (the GPU machine has none).
# Run from the repository root after `npx cmake-js compile`.
set -euo pipefail
rm -rf .gpu/dist .gpu/bundle && mkdir -p .gpu/bundle
npx tsc -p scripts/gpu/tsconfig.json
# Named like the package: compiler/version.ts finds the package root (and version) by this file.
echo '{"name": "tessera", "version": "0.1.0", "type": "module"}' > .gpu/dist/package.json
mkdir -p .gpu/dist/build/Release .gpu/dist/node_modules
cp build/Release/tessera_cuda.node .gpu/dist/build/Release/
bash scripts/gpu/copy-patterns.sh
cp -r node_modules/fast-check node_modules/pure-rand node_modules/chevrotain node_modules/@chevrotain \
  node_modules/lodash-es .gpu/dist/node_modules/
# The model tests and benchmark reach the driver's artifact writers (layer plans), which import pngjs and ts-morph.
cp -r node_modules/pngjs node_modules/ts-morph node_modules/@ts-morph node_modules/code-block-writer \
  node_modules/minimatch node_modules/brace-expansion node_modules/balanced-match node_modules/path-browserify \
  node_modules/tinyglobby node_modules/fdir node_modules/picomatch .gpu/dist/node_modules/
# The command line (bench/model-generate.js runs `tessera generate` as a child process) loads commander and
# listr2; copy them with everything they depend on.
cp -r $(node scripts/gpu/dependency-closure.mjs commander listr2) .gpu/dist/node_modules/
tar -C .gpu -cJf .gpu/bundle/dist.tar.xz dist
[ -f .gpu/bundle/node.xz ] || xz -T2 -c "$(command -v node)" > .gpu/bundle/node.xz
du -sh .gpu/bundle/*
