#!/usr/bin/env bash
# Makes the npm package from this checkout's build (./dev build first): the
# prebuilt addons (scripts/build-prebuilds.sh), the commit it was built from
# (dist/build-info.json, which `bindsnoop --version` prints), then npm pack.
# Prints the tarball's path.
#   scripts/pack.sh [OUTDIR]     default build/pack
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
OUT=$(mkdir -p "${1:-build/pack}" && readlink -f "${1:-build/pack}")
scripts/build-prebuilds.sh >/dev/null
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if [ "$commit" != unknown ] && [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit+=-dirty; fi
printf '{"commit":"%s"}\n' "$commit" > dist/build-info.json
trap 'rm -f dist/build-info.json' EXIT
name=$(npm pack --silent --pack-destination "$OUT" | tail -1)
echo "$OUT/$name"
