#!/usr/bin/env bash
# On the GPU machine (repository root, .gpu/bundle carried): the kernel tuning study in one call. Checks and
# times every variant of bench/cuda-variants.ts, times FlexAttention and SDPA on the same masks
# (bench/gpu/bench_attention.py), and prints opcode counts of each variant's dense kernel; logs go to $OUT.
# Usage: scripts/gpu/run-variants.sh [iterations]
set -uo pipefail
OUT="${OUT:-/tmp/tessera-out}"; mkdir -p "$OUT"
T=/tmp/tessera-gpu; rm -rf "$T"; mkdir -p "$T/bin"
xz -dc .gpu/bundle/node.xz > "$T/bin/node" && chmod +x "$T/bin/node"
tar -C "$T" -xJf .gpu/bundle/dist.tar.xz
export PATH="$T/bin:$PATH" TESSERA_CACHE_DIR="$T/cache" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu --format=csv | tee "$OUT/gpu.txt"
status=0
(cd "$T/dist" && node bench/cuda-variants.js "$T/variants" "${1:-10}") 2>&1 | tee "$OUT/variants.log" || status=1
cp "$T"/variants/variant-*.json "$OUT/" 2>/dev/null
if command -v cuobjdump >/dev/null; then
  bash scripts/gpu/sass-summary.sh sm_90 "$T"/variants/sass-*.cu 2>&1 | tee "$OUT/sass.txt"
fi
python3 bench/gpu/bench_attention.py "$T/variants" 2>&1 | tee "$OUT/flex.log" || status=1
cp "$T/variants/results.md" "$T/variants/results.json" "$OUT/" 2>/dev/null
exit $status
