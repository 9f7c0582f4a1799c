#!/usr/bin/env bash
# `npm run test:gpu`: the GPU property tests against the float64 CPU reference (skipped with the reason when
# CUDA is absent), then, when PyTorch is installed, the comparison with FlexAttention on the same block mask.
set -euo pipefail
npx tsc -p scripts/gpu/tsconfig.json
bash scripts/gpu/copy-patterns.sh
export TESSERA_FLEX_DIR="${TESSERA_FLEX_DIR:-.gpu/flex}"
node --test --test-reporter=spec .gpu/dist/test/device/attention.gpu.js .gpu/dist/test/device/model.gpu.js
if [ -f "$TESSERA_FLEX_DIR/flex_case.json" ] && python3 -c 'import torch' 2>/dev/null; then
  python3 bench/gpu/flex_compare.py "$TESSERA_FLEX_DIR"
else
  echo "FlexAttention comparison skipped (no GPU case exported, or PyTorch not installed)"
fi
