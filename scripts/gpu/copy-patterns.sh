#!/usr/bin/env bash
# The GPU tests and benchmark build plans from the built-in .tile files, which patterns/index.ts looks
# for next to its compiled module: copy them beside .gpu/dist/patterns/index.js.
set -euo pipefail
mkdir -p .gpu/dist/patterns .gpu/dist/models/open-sora-plan/configs
cp patterns/*.tile .gpu/dist/patterns/
# models/open-sora-plan/configs/index.ts reads the shipped model configs next to its module when it is loaded (the CLI does).
cp models/open-sora-plan/configs/*.json .gpu/dist/models/open-sora-plan/configs/
# codegen/cuda/headers.ts reads the CUDA kernel headers (tessera/*.cuh) next to its compiled module.
mkdir -p .gpu/dist/codegen/cuda/kernels/tessera
cp codegen/cuda/kernels/tessera/*.cuh .gpu/dist/codegen/cuda/kernels/tessera/
