#!/usr/bin/env bash
# On the GPU machine (repository root, .gpu/bundle carried): the warp-specialised wgmma kernel's study in one
# call (issue 16). GPU tests against float64 (every kernel, the warp-specialised one too) and the Flex
# comparison; the variants study (float64 checks, then timings at the Open-Sora-Plan shapes, FlexAttention and
# SDPA on the same masks; VARIANTS "-" skips it); the SASS of the variants; optionally the attention benchmark
# set SET with the runtime's default kernel (TESSERA_WGMMA_WS picks another). Everything lands in
# $OUT/ws-study.tar.gz; the tables print last.
# Usage: scripts/gpu/run-ws-study.sh VARIANTS [SET]
set -uo pipefail
R="${OUT:-/tmp/tessera-out}"; O=/tmp/ws-study; rm -rf "$O"; mkdir -p "$O"; export OUT="$O"
TESSERA_TEST_RUNS="${TESSERA_TEST_RUNS:-12}" timeout "${TESTS_TIMEOUT:-240}" bash scripts/gpu/run-all.sh tests > "$O/tests-all.log" 2>&1
echo "tests rc=$?"
if [ "$1" != - ]; then
  TESSERA_VARIANTS="$1" timeout 360 bash scripts/gpu/run-variants.sh 10 > "$O/variants-all.log" 2>&1
  echo "variants rc=$?"
fi
for c in /tmp/tessera-gpu/variants/sass-ws*.cubin; do
  [ -f "$c" ] && cuobjdump -sass "$c" | gzip > "$O/$(basename "$c" .cubin).sass.gz"
done
if [ -n "${2:-}" ]; then
  cp -r /tmp/tessera-gpu/variants "$O/variants-dir" 2>/dev/null
  timeout "${BENCH_TIMEOUT:-400}" bash scripts/gpu/run-all.sh attention-bench "$2" > "$O/bench-all.log" 2>&1
  echo "bench rc=$?"
fi
rm -rf "$O/variants-dir"
tar -C /tmp -czf "$R/ws-study.tar.gz" ws-study
grep -E "^# (pass|fail)|^not ok|✖|PASS|FAIL" "$O/tests-all.log" | head -20
[ -f "$O/variants.log" ] && tail -c 5000 "$O/variants.log" && tail -c 2500 "$O/flex.log"
[ -f "$O/results.md" ] && tail -c 7000 "$O/results.md"
grep -h "==\|instructions" "$O/sass.txt" | tail -12
exit 0
