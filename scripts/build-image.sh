#!/usr/bin/env bash
# Builds the agent image from the project's Dockerfile with podman (runc), on a
# stand-in base image made locally, since no image registry is reachable here:
# Debian bookworm from Debian's archive (debootstrap, cached as an image) plus
# the official Node.js 24 build from the npm registry (scripts/node-binary.sh,
# pinned) and this machine's npm. Prints the image name.
# Usage: scripts/build-image.sh [TAG]
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
TAG=${1:-localhost/bindsnoop-otel:test}
NODE_DIR=$(scripts/node-binary.sh)
NODE_VERSION=$("$NODE_DIR/bin/node" -p 'process.versions.node')
BASE=localhost/bindsnoop-base:bookworm-node${NODE_VERSION}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PODMAN=(podman --runtime runc)

if ! "${PODMAN[@]}" image exists "$BASE"; then
  rootfs=$(mktemp -d /var/tmp/bindsnoop-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  echo "build-image: debootstrap bookworm into $rootfs" >&2
  debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >/dev/null
  # the official Node.js build and the headers node-gyp builds against; npm from this machine
  install -D -m 0755 "$NODE_DIR/bin/node" "$rootfs/usr/bin/node"
  mkdir -p "$rootfs/usr/lib/node_modules" "$rootfs/usr/include" "$rootfs/usr/etc"
  cp -a "$(npm root -g)/npm" "$rootfs/usr/lib/node_modules/npm"
  cp -a "$NODE_DIR/include/node" "$rootfs/usr/include/node"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/bin/npx"
  # this machine's way to the npm registry: its CA bundle (kept apart from the image's own
  # ca-certificates, which the build stage reinstalls) and its npm settings
  install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/machine-ca-bundle.crt"
  { grep -v '^cafile=' "$(npm config get globalconfig)" 2>/dev/null || true; echo 'cafile=/etc/ssl/machine-ca-bundle.crt'; } \
    > "$rootfs/usr/etc/npmrc"
  tar -C "$rootfs" -c . | "${PODMAN[@]}" import --change 'CMD ["/bin/bash"]' - "$BASE" >/dev/null
  echo "build-image: base image $BASE" >&2
fi

"${PODMAN[@]}" build --quiet \
  --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
  --build-arg BASE_IMAGE="$BASE" --build-arg RUNTIME_IMAGE="$BASE" \
  -t "$TAG" . >/dev/null
# keep the build cache of the last day; older dangling build stages only take disk
"${PODMAN[@]}" image prune -f --filter until=24h >/dev/null 2>&1 || true
echo "$TAG"
