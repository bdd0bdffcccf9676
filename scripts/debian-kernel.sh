#!/usr/bin/env bash
# Fetches one of Debian's kernel packages, once, into a cache, and prints the
# directory it is unpacked in (boot/vmlinuz-*, lib/modules/*).
#
#   scripts/debian-kernel.sh SUITE ARCH [VERSION-PREFIX]
#     SUITE: bullseye | bookworm | trixie       ARCH: amd64 | arm64
#     VERSION-PREFIX: e.g. 6.12 (default: the suite's own kernel line)
#
# The newest matching linux-image-<ver>-<arch> package of that suite is taken.
# A private apt configuration (sources list, lists, cache under the cache dir)
# is used, so the machine's own apt sources are never changed.
set -euo pipefail
SUITE=${1:?suite} ARCH=${2:?arch} PREFIX=${3:-}
. "$(dirname "$(readlink -f "$0")")/debian-apt.sh"

case "$SUITE:$PREFIX" in
  bullseye:) PREFIX=5.10 ;;
  bookworm:) PREFIX=6.1 ;;
  trixie:) PREFIX=6.12 ;;
esac
re="^linux-image-${PREFIX//./\\.}\\.[0-9]+(-[0-9]+|\\+deb[0-9]+)-${ARCH}\$"

# what is already unpacked wins: the archive drops superseded packages, the cache keeps working offline
cached=$(ls -d "$CACHE"/pkg/linux-image-"$PREFIX".*-"$ARCH" 2>/dev/null | grep -E "/${re#^}" | sort -V | tail -1 || true)
if [ -n "$cached" ] && [ -f "$cached/.complete" ]; then
  echo "$cached"
  exit 0
fi

pick() { apt-cache "${APT[@]}" search --names-only "$re" 2>/dev/null | awk '{print $1}' | sort -V | tail -1; }
pkg=$(pick)
if [ -z "$pkg" ]; then
  apt-get "${APT[@]}" update >/dev/null 2>&1 || { echo "debian-kernel: apt-get update failed" >&2; exit 1; }
  pkg=$(pick)
fi
[ -n "$pkg" ] || { echo "debian-kernel: no package matches $re in $SUITE" >&2; exit 1; }
dest=$CACHE/pkg/$pkg
if [ ! -f "$dest/.complete" ]; then
  tmp=$(mktemp -d "$CACHE/dl.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && apt-get "${APT[@]}" download "$pkg" >/dev/null 2>&1) ||
    { apt-get "${APT[@]}" update >/dev/null 2>&1 && (cd "$tmp" && apt-get "${APT[@]}" download "$pkg" >/dev/null); }
  rm -rf "$dest" && mkdir -p "$dest"
  dpkg-deb -x "$tmp"/*.deb "$dest"
  touch "$dest/.complete"
fi
echo "$dest"
