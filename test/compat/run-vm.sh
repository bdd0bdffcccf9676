#!/usr/bin/env bash
# Boots Debian's Linux 6.1 (older than the 6.6 inet_flags and 6.15 kernfs changes
# that bpf/core_fixes.bpf.h bridges) under qemu (TCG: no nested KVM here) with
# core_check as /init, and prints the VM's console. The kernel package is
# fetched from Debian's archive once and cached.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/../.."
CACHE=${BINDSNOOP_COMPAT_CACHE:-/var/cache/bindsnoop-compat}
mkdir -p "$CACHE"

pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' | awk '{print $1}' | sort -V | tail -1)
[ -n "$pkg" ] || { echo "run-vm: no linux-image-6.1 package known to apt (apt-get update?)" >&2; exit 1; }
if [ ! -d "$CACHE/$pkg" ]; then
  (cd "$CACHE" && apt-get download -q "$pkg" >/dev/null 2>&1 && dpkg -x "$pkg"_*.deb "$pkg" && rm -f "$pkg"_*.deb)
fi
vmlinuz=$(ls "$CACHE/$pkg"/boot/vmlinuz-*)

make -s -C bpf
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root/dev" "$work/root/proc" "$work/root/sys" "$work/root/tmp"
gcc -static -O2 -Wall -I bpf -I bpf/.output -o "$work/root/init" test/compat/core_check.c -l:libbpf.a -lelf -lz 2>/dev/null
(cd "$work/root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initramfs.gz"

timeout 300 qemu-system-x86_64 -accel tcg -m 768 -smp 1 -nographic -no-reboot \
  -kernel "$vmlinuz" -initrd "$work/initramfs.gz" \
  -append "console=ttyS0 panic=-1 rdinit=/init quiet loglevel=1" </dev/null
