#!/usr/bin/env bash
# Opcode counts of generated kernels' machine code (SASS), to compare kernels without profiling: total
# instructions, tensor-core MMAs, shared loads, branches and convergence barriers, per .cu file given.
# Usage: scripts/gpu/sass-summary.sh ARCH FILE.cu...   (ARCH: for files whose header names no target; needs nvcc
# and cuobjdump, e.g. on the GPU machine)
set -euo pipefail
arch="$1"; shift
for cu in "$@"; do
  # A source bound to one target says so in its header (codegen/cuda: "// Target: sm_90a only"); such targets
  # (wgmma, setmaxnreg) need -gencode, since -arch=sm_90a also runs a plain sm_90 pass that rejects them.
  file_arch=$(sed -n 's|^// Target: \(sm_[0-9]*a\) only.*|\1|p' "$cu" | head -1)
  file_arch=${file_arch:-$arch}
  cubin="${cu%.cu}.${file_arch}.cubin"
  if [[ "$file_arch" == *a ]]; then target="-gencode=arch=compute_${file_arch#sm_},code=$file_arch"; else target="-arch=$file_arch"; fi
  nvcc "$target" -cubin -std=c++17 -diag-suppress 177 -o "$cubin" "$cu"
  echo "== $(basename "$cu") ($file_arch)"
  # Lines like "/*0a40*/  HMMA.16816.F32.BF16 R4, ..." : the opcode is the first word after the address.
  cuobjdump -sass "$cubin" | awk '
    /^[[:space:]]+\/\*[0-9a-f]+\*\// {
      op = $2; if (op ~ /^@/) op = $3; sub(/\..*/, "", op); sub(/;$/, "", op)
      n[op]++; total++
    }
    END {
      printf "  instructions %d  HMMA %d  HGMMA %d  LDSM %d  LDS %d  BRA %d  BSSY %d  MUFU %d  LDGSTS %d  UTMALDG %d  BAR %d  LDL %d  STL %d\n",
        total, n["HMMA"], n["HGMMA"], n["LDSM"], n["LDS"], n["BRA"], n["BSSY"], n["MUFU"], n["LDGSTS"], n["UTMALDG"], n["BAR"], n["LDL"], n["STL"]
    }'
done
