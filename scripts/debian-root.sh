#!/usr/bin/env bash
# Makes a minimal Debian root filesystem (debootstrap minbase) once, caches it,
# and prints its path. Nothing on the machine itself is installed or changed.
#   scripts/debian-root.sh SUITE ARCH [PACKAGE...]
#     SUITE  bullseye (Debian 11), bookworm (12) or trixie (13)
#     ARCH   amd64 or arm64 (arm64 runs its second stage under qemu-user; see ./dev)
#     PACKAGE  extra packages installed with apt inside the root; a name with
#              :arm64 adds that architecture first (cross-building roots)
# The same arguments give the same cached root; a different package list is
# another root. Roots are what a clean host has: no compiler, no libbpf, no
# Node.js, unless a PACKAGE asks for it.
set -euo pipefail
SUITE=${1:?suite} ARCH=${2:?arch}
shift 2
PKGS=("$@")
CACHE=${BINDSNOOP_ROOT_CACHE:-/var/cache/bindsnoop-roots}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
key=$SUITE-$ARCH
if [ ${#PKGS[@]} -gt 0 ]; then key+=-$(printf '%s\n' "${PKGS[@]}" | sort | sha256sum | cut -c1-12); fi
dest=$CACHE/$key
[ -f "$dest/.complete" ] && { echo "$dest"; exit 0; }
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock-$key"
flock 9
[ -f "$dest/.complete" ] && { echo "$dest"; exit 0; }

rm -rf "$dest"
tmp=$dest.tmp
rm -rf "$tmp"
say() { printf 'debian-root: %s\n' "$*" >&2; }
say "debootstrap $SUITE $ARCH into $tmp"
if [ "$ARCH" = "$(dpkg --print-architecture)" ]; then
  debootstrap --variant=minbase "$SUITE" "$tmp" "$MIRROR" >/dev/null
else
  # the second stage runs the root's own programs: under qemu-user through binfmt_misc (./dev registers it)
  debootstrap --variant=minbase --arch="$ARCH" --foreign "$SUITE" "$tmp" "$MIRROR" >/dev/null
  chroot "$tmp" /debootstrap/debootstrap --second-stage >/dev/null
fi
if [ ${#PKGS[@]} -gt 0 ]; then
  say "installing ${PKGS[*]}"
  cp /etc/resolv.conf "$tmp/etc/resolv.conf" 2>/dev/null || true
  for p in "${PKGS[@]}"; do
    case "$p" in *:*) chroot "$tmp" dpkg --add-architecture "${p#*:}" ;; esac
  done
  chroot "$tmp" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  chroot "$tmp" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PKGS[@]}" >/dev/null
  chroot "$tmp" apt-get clean
fi
rm -rf "$tmp"/var/lib/apt/lists/* "$tmp"/var/cache/apt/*.bin
touch "$tmp/.complete"
mv "$tmp" "$dest"
echo "$dest"
