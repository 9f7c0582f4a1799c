#!/usr/bin/env bash
# What a package user does, checked: `npm pack`, then `npm install tessera-<version>.tgz` in an empty project
# (which builds the native addon with cmake-js, offline), `import` the library and compile a pattern with it,
# and run `npx tessera --version`. Needs dist/ built (npm install does it); ends with a line saying it passed.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
version=$(node -p "require('./package.json').version")
npm pack --ignore-scripts --silent --pack-destination "$work" >/dev/null
tarball="$work/tessera-$version.tgz"
[ -f "$tarball" ] || { echo "check-package: npm pack wrote no $tarball" >&2; exit 1; }
listing=$(tar -tzf "$tarball")
for f in package/CMakeLists.txt package/runtime/cuda/native/addon.cc package/dist/index.js package/dist/cli/main.js; do
  grep -qx "$f" <<<"$listing" || { echo "check-package: $f is not in the tarball" >&2; exit 1; }
done
mkdir "$work/app"
cd "$work/app"
npm init -y >/dev/null
npm install --no-audit --no-fund --foreground-scripts "$tarball"
[ -f node_modules/tessera/build/Release/tessera_cuda.node ] || { echo "check-package: the addon was not built" >&2; exit 1; }
node --input-type=module -e "
import { compile } from 'tessera';
const text = 'layout video(t, h, w)\npattern same_frame() on video {\n  attend q.t == k.t\n}\n';
const { outputs } = await compile(text, { sizes: { t: 4, h: 4, w: 4 }, block: 16, targets: 'flex', cache: null });
if (outputs.plan.key !== 'same_frame_t4x4x4_b16x16' || outputs.artifacts.length !== 2) throw new Error('unexpected plan');
console.log('imported tessera and compiled', outputs.plan.key);
"
[ "$(npx --no-install tessera --version)" = "$version" ] || { echo "check-package: tessera --version is not $version" >&2; exit 1; }
echo "check-package: packed, installed in an empty project, imported and ran tessera --version ($version): OK"
