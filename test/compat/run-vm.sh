#!/usr/bin/env bash
# Boots one of Debian's kernels under qemu (TCG: no nested KVM here) with
# core_check as /init, and prints the VM's console.
#   test/compat/run-vm.sh [ARCH [SUITE]]    ARCH x86 (default) or arm64; SUITE bookworm (default), ...
# The kernel package is fetched from Debian's archive once and cached
# (scripts/debian-kernel.sh). For arm64 the BPF object is built for arm64 and
# core_check is cross-compiled statically against arm64 libraries unpacked
# from Debian's archive into a cached sysroot (nothing is installed for it).
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/../.."
ARCH=${1:-x86} SUITE=${2:-bookworm}
CACHE=${BINDSNOOP_KERNEL_CACHE:-/var/cache/bindsnoop-kernels}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root/dev" "$work/root/proc" "$work/root/sys" "$work/root/tmp"

case "$ARCH" in
  x86)
    kdir=$(scripts/debian-kernel.sh "$SUITE" amd64)
    make -s -C bpf
    gcc -static -O2 -Wall -I bpf -I bpf/.output -o "$work/root/init" test/compat/core_check.c -l:libbpf.a -lelf -lz 2>/dev/null
    QEMU=(qemu-system-x86_64 -accel tcg -m 768 -smp 1)
    CONSOLE=ttyS0
    ;;
  arm64)
    kdir=$(scripts/debian-kernel.sh "$SUITE" arm64)
    sysroot=$(scripts/debian-sysroot.sh arm64)
    make -s -C bpf ARCH=arm64 OUTPUT=.output/arm64
    aarch64-linux-gnu-gcc -static -O2 -Wall -I bpf -I bpf/.output/arm64 -isystem "$sysroot/usr/include" \
      -o "$work/root/init" test/compat/core_check.c \
      -L "$sysroot/usr/lib/aarch64-linux-gnu" -l:libbpf.a -l:libelf.a -l:libz.a -l:libzstd.a 2>/dev/null
    QEMU=(qemu-system-aarch64 -accel tcg -M virt -cpu cortex-a57 -m 768 -smp 1)
    CONSOLE=ttyAMA0
    ;;
  *) echo "run-vm: ARCH is x86 or arm64" >&2; exit 2 ;;
esac
vmlinuz=$(ls "$kdir"/boot/vmlinuz-*)
(cd "$work/root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initramfs.gz"

timeout 300 "${QEMU[@]}" -nographic -no-reboot \
  -kernel "$vmlinuz" -initrd "$work/initramfs.gz" \
  -append "console=$CONSOLE panic=-1 rdinit=/init quiet loglevel=1" </dev/null
