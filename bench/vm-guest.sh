#!/usr/bin/env bash
# Runs inside a VM (test/vm/boot.sh SUITE bench/vm-guest.sh ROOT): the kernel-side cost group of bench/run.mjs on
# the guest's kernel, where fentry and kprobe attach; prints one KERNELCOST line (ratios within this one boot).
set -u
cd "${1:?repo root}" || exit 1
ip link set lo up
echo  # the console's first line carries the firmware's escape sequences
node bench/run.mjs --kernel-only
echo "BENCH DONE"
