#!/usr/bin/env bash
# Pack what the GPU machine needs into .gpu/ (git-ignored): the compiled GPU tests and benchmark, the addon,
# the two runtime dependencies the tests use, and this machine's Node (the GPU machine has none).
# Run from the repository root after `npx cmake-js compile`.
set -euo pipefail
rm -rf .gpu/dist .gpu/bundle && mkdir -p .gpu/bundle
npx tsc -p scripts/gpu/tsconfig.json
echo '{"type": "module"}' > .gpu/dist/package.json
mkdir -p .gpu/dist/build/Release .gpu/dist/node_modules
cp build/Release/tessera_cuda.node .gpu/dist/build/Release/
cp -r node_modules/fast-check node_modules/pure-rand .gpu/dist/node_modules/
tar -C .gpu -cJf .gpu/bundle/dist.tar.xz dist
[ -f .gpu/bundle/node.xz ] || xz -T2 -c "$(command -v node)" > .gpu/bundle/node.xz
du -sh .gpu/bundle/*
