#!/usr/bin/env bash
# Makes the npm package from this checkout's build (./dev build first): the
# prebuilt addons (scripts/build-prebuilds.sh), the commit it was built from
# (dist/build-info.json, which `bindsnoop --version` prints), then npm pack.
# Prints the tarball's path. Takes about 10 minutes the first time (a Debian 11
# root is made and the static libraries built), seconds after that.
#   scripts/pack.sh [OUTDIR]     default build/pack
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."

# what the build needs on this host, checked before minutes of work (./dev pack installs them on Debian)
missing=()
for tool in debootstrap chroot unshare curl sha256sum clang bpftool make npm; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "pack: missing ${missing[*]}: run ./dev pack (it installs them on Debian), or install them (apt install debootstrap curl clang llvm bpftool make)" >&2
  exit 1
fi
if [ ! -f dist/cli/main.js ]; then
  echo "pack: no build here (dist/cli/main.js): run ./dev pack, or ./dev build first" >&2
  exit 1
fi
OUT=$(mkdir -p "${1:-build/pack}" && readlink -f "${1:-build/pack}")
scripts/build-prebuilds.sh >/dev/null
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if [ "$commit" != unknown ] && [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit+=-dirty; fi
printf '{"commit":"%s"}\n' "$commit" > dist/build-info.json
trap 'rm -f dist/build-info.json' EXIT
name=$(npm pack --silent --pack-destination "$OUT" | tail -1)
echo "$OUT/$name"
