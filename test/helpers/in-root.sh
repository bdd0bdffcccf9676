#!/usr/bin/env bash
# Runs a command inside a writable, throwaway view of a cached Debian root
# (scripts/debian-root.sh): an overlay whose changes go to STATE/upper, so
# that calls with the same STATE see each other's changes and the cached root
# is never touched. The view has the host's /proc, /sys (bpffs, tracefs,
# cgroups), /dev and DNS, a fresh /tmp, and lives in a private mount
# namespace: nothing stays mounted after the command.
#   test/helpers/in-root.sh LOWER STATE CMD [ARG...]
#   test/helpers/in-root.sh --node NODE_DIR NPM_DIR LOWER STATE
#     puts the official Node.js build NODE_DIR and npm (NPM_DIR) into
#     STATE's /usr/local, with this machine's way to the npm registry
#     (its CA bundle and npm settings), as a user's install would.
set -euo pipefail
if [ "${1:-}" = --node ]; then
  exec "$(dirname "$(readlink -f "$0")")/../../scripts/node-into-root.sh" "$2" "$3" "$5/upper" /usr/local
fi
LOWER=${1:?lower} STATE=${2:?state}
shift 2
mkdir -p "$STATE/upper" "$STATE/work" "$STATE/merged"
exec unshare -m bash -c '
  set -e
  lower=$1 state=$2
  shift 2
  m=$state/merged
  mount -t overlay overlay -o "lowerdir=$lower,upperdir=$state/upper,workdir=$state/work" "$m"
  mount --rbind /proc "$m/proc"
  mount --rbind /sys "$m/sys"
  mount --rbind /dev "$m/dev"
  mount -t tmpfs tmpfs "$m/tmp"
  cp /etc/resolv.conf "$m/etc/resolv.conf" 2>/dev/null || true
  exec chroot "$m" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/root LANG=C.UTF-8 "$@"
' in-root "$LOWER" "$STATE" "$@"
