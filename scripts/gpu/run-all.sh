#!/usr/bin/env bash
# On the GPU machine (repository root, .gpu/bundle carried): unpack Node and the compiled tests, run the GPU
# tests against the float64 reference, the FlexAttention comparison, then the benchmark; logs go to $OUT.
# Usage: scripts/gpu/run-all.sh [tests|attention|attention-bench [SET]|bench|model|model-t24|parallel|all|generate [OPTIONS]|search [OPTIONS]]
# (TESSERA_TEST_RUNS sets the test intensity)
#   tests: GPU tests, the Flex comparison and the Flex modules; flex-modules: the Flex modules alone; attention: tests and the attention benchmark;
#   attention-bench [SET]: the attention benchmark alone, one set of bench/attention-cases.ts (targets, the default:
#     Open-Sora-Plan, Wan 2.x and HunyuanVideo at their head dims in bf16 and the targets; wan, hunyuan,
#     osp: the other head dims and fp16), with the SASS summary of the Open-Sora-Plan kernels;
#   bench: attention and DiT-step benchmarks; model: the CUDA model tests and the DiT-step benchmark;
#   model-t24: the DiT-step benchmark at 93 frames (24 latent frames) with plans/example-t24.json;
#   all: tests, attention and bench;
#   generate: `tessera generate` at full size (bench/model-generate.js; OPTIONS go to it), checkpoint under /tmp;
#   search: the layer-wise mask search at full size (bench/model-search.js: a small CUDA-vs-CPU check, then 32 layers
#     x 4 candidates x 4 calibration inputs at 29 frames; OPTIONS go to it, e.g. --inputs 2 --steps 8), plans,
#     heatmap and model-search.json copied to $OUT.
#   parallel: sequence parallelism: the CUDA model tests (the RoPE and copy kernels), logical ranks against the
#     unsharded step at full size and NCCL with a world of one (test/device/parallel.gpu.js), then one step at
#     P = 1 and every P the machine has (bench/parallel-step.js), then the PyTorch peer under torchrun.
set -uo pipefail
what="${1:-all}"
OUT="${OUT:-/tmp/tessera-out}"; mkdir -p "$OUT"
T=/tmp/tessera-gpu; rm -rf "$T"; mkdir -p "$T/bin"
xz -dc .gpu/bundle/node.xz > "$T/bin/node" && chmod +x "$T/bin/node"
tar -C "$T" -xJf .gpu/bundle/dist.tar.xz
export PATH="$T/bin:$PATH" TESSERA_CACHE_DIR="$T/cache" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu --format=csv | tee "$OUT/gpu.txt"
status=0
if [ "$what" = tests ] || [ "$what" = attention ] || [ "$what" = all ]; then
  export TESSERA_FLEX_DIR="$T/flex"
  (cd "$T/dist" && node --test --test-reporter=spec test/device/attention.gpu.js test/device/model.gpu.js) 2>&1 | tee "$OUT/tests.log" || status=1
  python3 bench/gpu/flex_compare.py "$T/flex" 2>&1 | tee "$OUT/flex-compare.log" || status=1
fi
if [ "$what" = tests ] || [ "$what" = attention ] || [ "$what" = all ] || [ "$what" = flex-modules ]; then
  # The .blockmask.py that `tessera compile --target flex` writes, run as a user would: flex_attention with the
  # block mask against scaled_dot_product_attention with the dense mask (frames, tiles with reordering, text).
  for p in ${FLEX_PATTERNS:-attention_tile sliding_tile text_video causal radial svg_spatial svg_temporal}; do
    (cd "$T/dist" && node cli/main.js compile "$p" --target flex --out "$T/flexpy/$p") >/dev/null 2>&1 || status=1
    python3 "$T/flexpy/$p/"*.blockmask.py 2>&1 | tee -a "$OUT/flex-module.log" || status=1
  done
  # Per-head masks (H = 24, mask_mod reads the head): the split layers of plans/example-heads-t8.json.
  plan="$PWD/plans/example-heads-t8.json"
  (cd "$T/dist" && node cli/main.js layers "$plan" --flex "$T/flexpy/heads") >/dev/null 2>&1 || status=1
  for f in "$T/flexpy/heads/"*.blockmask.py; do
    python3 "$f" 2>&1 | tee -a "$OUT/flex-module.log" || status=1
  done
fi
if [ "$what" = attention ] || [ "$what" = attention-bench ] || [ "$what" = bench ] || [ "$what" = all ]; then
  set_name=targets; iterations=20
  [ "$what" = attention-bench ] && set_name="${2:-targets}"
  # The sweeps hold the large shapes at every head dim and dtype: fewer timed runs keep them inside one call.
  [ "$set_name" != targets ] && iterations=10
  (cd "$T/dist" && node bench/cuda-attention.js "$T/bench" "$iterations" "$set_name") 2>&1 | tee "$OUT/bench-ours.log" || status=1
  python3 bench/gpu/bench_attention.py "$T/bench" 2>&1 | tee "$OUT/bench.log" || status=1
  cp "$T/bench/results.md" "$T/bench/results.json" "$OUT/" 2>/dev/null
fi
if [ "$what" = model ]; then
  (cd "$T/dist" && node --test --test-reporter=spec test/device/model.gpu.js) 2>&1 | tee "$OUT/tests.log" || status=1
fi
if [ "$what" = bench ] || [ "$what" = all ] || [ "$what" = model ]; then
  # One sampling step of the full-size DiT (ours: eager, planned memory, CUDA graph; then PyTorch), run from the
  # repository root for its files.
  node "$T/dist/bench/model-step.js" "$T/model" 2>&1 | tee "$OUT/bench-model.log" || status=1
  python3 bench/gpu/model-step.py "$T/model" 2>&1 | tee -a "$OUT/bench-model.log" || status=1
  cp "$T/model/model-step.json" "$T/model/model-step-torch.json" "$OUT/" 2>/dev/null
fi
if [ "$what" = model-t24 ]; then
  # The same step at 93 frames (24 latent frames, 86,400 tokens) with plans/example-t24.json.
  export TESSERA_LATENT_FRAMES=24
  node "$T/dist/bench/model-step.js" "$T/model24" 2>&1 | tee "$OUT/bench-model-t24.log" || status=1
  python3 bench/gpu/model-step.py "$T/model24" 2>&1 | tee -a "$OUT/bench-model-t24.log" || status=1
  for f in model-step model-step-torch; do cp "$T/model24/$f.json" "$OUT/$f-t24.json" 2>/dev/null; done
fi
if [ "$what" = bench ] || [ "$what" = all ] || [ "$what" = attention-bench ]; then
  # Machine-code opcode counts of the dense and the sparsest 8-frame kernels (cuobjdump is on the GPU machine);
  # sass-summary.sh compiles the wgmma sources for the sm_90a their header names.
  if command -v cuobjdump >/dev/null; then
    kernels=$(ls "$T"/bench/osp_T8_full_d96_bf16.cu "$T"/bench/osp_T8_1-7_d96_bf16.cu "$T"/bench/wan_T21_full_d128_bf16.cu 2>/dev/null)
    [ -n "$kernels" ] && bash scripts/gpu/sass-summary.sh sm_90 $kernels 2>&1 | tee "$OUT/sass.txt"
  fi
fi
if [ "$what" = parallel ]; then
  # From the repository root: the test and the benchmark read the model config and plans/ from there.
  (cd "$T/dist" && node --test --test-reporter=spec test/device/model.gpu.js) 2>&1 | tee "$OUT/tests.log" || status=1
  node --test --test-reporter=spec "$T/dist/test/device/parallel.gpu.js" 2>&1 | tee "$OUT/parallel-tests.log" || status=1
  node "$T/dist/bench/parallel-step.js" "$T/parallel" 2>&1 | tee "$OUT/bench-parallel.log" || status=1
  cp "$T/parallel/parallel-step.json" "$OUT/" 2>/dev/null
  gpus=$(nvidia-smi -L | wc -l)
  for frames in $(echo "${TESSERA_BENCH_FRAMES:-8,24}" | tr "," " "); do
    for p in 1 2 4 8; do
      [ "$p" -le "$gpus" ] || continue
      modes=ulysses; [ "$p" -gt 1 ] && modes="ulysses cfg"
      for mode in $modes; do
        python3 -m torch.distributed.run --standalone --nproc-per-node "$p" bench/gpu/parallel-step.py "$T/parallel" "$frames" "$mode" \
          2>&1 | tee -a "$OUT/bench-parallel.log" || status=1
      done
    done
  done
  cp "$T"/parallel/parallel-torch-*.json "$OUT/" 2>/dev/null
fi
if [ "$what" = generate ]; then
  # A 5.5 GB random-weight checkpoint, then the command line with the example plan and with full attention.
  node "$T/dist/bench/model-generate.js" --out /tmp/tessera-generate "${@:2}" 2>&1 | tee "$OUT/generate.log" || status=1
  cp /tmp/tessera-generate/model-generate.json "$OUT/" 2>/dev/null
fi
if [ "$what" = search ]; then
  node "$T/dist/bench/model-search.js" "$T/search" "${@:2}" 2>&1 | tee "$OUT/search.log" || status=1
  cp "$T"/search/model-search.json "$T"/search/*.png "$T"/search/*.svg "$T"/search/r*.json "$OUT/" 2>/dev/null
fi
exit $status
