#!/usr/bin/env bash
# The GPU tests and benchmark build plans from the built-in .tile files, which models/patterns/index.ts looks
# for next to its compiled module: copy them beside .gpu/dist/models/patterns/index.js.
set -euo pipefail
mkdir -p .gpu/dist/models/patterns .gpu/dist/models/configs
cp models/patterns/*.tile .gpu/dist/models/patterns/
# models/configs/index.ts reads the shipped model configs next to its module when it is loaded (the CLI does).
cp models/configs/*.json .gpu/dist/models/configs/
