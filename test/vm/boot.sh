#!/usr/bin/env bash
# Boots one of Debian's kernels under qemu (TCG) with this machine's root
# filesystem shared read-only over virtio-9p, runs SCRIPT [ARGS...] inside
# (test/vm/init.c), and prints the VM's console.
#   test/vm/boot.sh SUITE SCRIPT [ARG...]     SUITE: bullseye (5.10), bookworm (6.1), trixie (6.12)
# BINDSNOOP_VM_ARCH=arm64 boots the arm64 kernel instead (qemu-system-aarch64); its
# root is then BINDSNOOP_VM_ROOT, an arm64 root filesystem (this machine's is not).
# SCRIPT and its arguments are absolute paths or words without spaces.
# The kernel comes from scripts/debian-kernel.sh (cached); the initramfs holds
# only init and the modules for 9p, VXLAN, overlayfs and SCTP.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/../.."
SUITE=${1:?suite} SCRIPT=${2:?script}
shift 2
ARCH=${BINDSNOOP_VM_ARCH:-amd64}
SHARED=${BINDSNOOP_VM_ROOT:-/}
kdir=$(scripts/debian-kernel.sh "$SUITE" "$ARCH")
vmlinuz=$(ls "$kdir"/boot/vmlinuz-*)
moddir=$(find "$kdir/lib/modules" "$kdir/usr/lib/modules" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | head -1 || true)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root/dev" "$work/root/proc" "$work/root/modules"
case "$ARCH" in
  amd64)
    gcc -static -O2 -Wall -o "$work/root/init" test/vm/init.c
    QEMU=(qemu-system-x86_64 -accel tcg -m 2048 -smp 2)
    CONSOLE=ttyS0
    ;;
  arm64)
    aarch64-linux-gnu-gcc -static -O2 -Wall -o "$work/root/init" test/vm/init.c
    QEMU=(qemu-system-aarch64 -accel tcg -M virt -cpu cortex-a57 -m 2048 -smp 2)
    CONSOLE=ttyAMA0
    ;;
  *) echo "boot: BINDSNOOP_VM_ARCH is amd64 or arm64" >&2; exit 2 ;;
esac

# The modules (and what they depend on, deepest first) that the kernel has as modules.
declare -A seen=()
add_module() {
  local name=$1 file dep
  [ -n "${seen[$name]:-}" ] && return 0
  seen[$name]=1
  file=$(find "$moddir" \( -name "$name.ko" -o -name "$name.ko.xz" -o -name "$name.ko.zst" \) -print -quit)
  [ -n "$file" ] || return 0   # built in
  for dep in $(modinfo -F depends "$file" | tr ',' ' '); do add_module "$dep"; done
  case "$file" in
    *.xz) xz -dc "$file" > "$work/root/modules/$name.ko" ;;
    *.zst) zstd -dcq "$file" > "$work/root/modules/$name.ko" ;;
    *) cp "$file" "$work/root/modules/$name.ko" ;;
  esac
  echo "$name.ko" >> "$work/root/modules/order"
}
# crc32c_generic before sctp: sctp's libcrc32c asks the crypto API for crc32c, which would otherwise be loaded
# through modprobe, and the guests have none
for m in virtio_pci 9pnet_virtio 9p vxlan overlay crc32c_generic sctp; do add_module "$m"; done
(cd "$work/root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initramfs.gz"

append="console=$CONSOLE panic=-1 rdinit=/init quiet loglevel=1 bs.script=$SCRIPT"
for a in "$@"; do append+=" bs.arg=$a"; done
timeout "${BINDSNOOP_VM_TIMEOUT:-900}" "${QEMU[@]}" -nographic -no-reboot \
  -kernel "$vmlinuz" -initrd "$work/initramfs.gz" \
  -virtfs local,path="$SHARED",mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap \
  -append "$append" </dev/null
