#!/usr/bin/env bash
# Unpacks Debian bookworm's static libraries for another architecture into a
# cached sysroot (nothing is installed on the machine) and prints its path.
#   scripts/debian-sysroot.sh ARCH      ARCH: arm64
# Holds libbpf, libelf, zlib and zstd (headers and .a), enough to link the
# static BPF checker of test/compat/ with ${ARCH}'s cross compiler.
set -euo pipefail
ARCH=${1:?arch}
. "$(dirname "$(readlink -f "$0")")/debian-apt.sh"
dest=$CACHE/sysroot-$ARCH
[ -f "$dest/.complete" ] && { echo "$dest"; exit 0; }
pkgs=(libbpf-dev libbpf1 libelf-dev libelf1 zlib1g-dev zlib1g libzstd-dev libzstd1)
tmp=$(mktemp -d "$CACHE/dl.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
download() { (cd "$tmp" && apt-get "${APT[@]}" -o APT::Default-Release=bookworm download "${pkgs[@]/%/:$ARCH}" >/dev/null 2>&1); }
download || { apt-get "${APT[@]}" update >/dev/null 2>&1 && download; } ||
  { echo "debian-sysroot: cannot download ${pkgs[*]} for $ARCH" >&2; exit 1; }
rm -rf "$dest" && mkdir -p "$dest"
for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$dest"; done
touch "$dest/.complete"
echo "$dest"
