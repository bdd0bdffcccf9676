#!/usr/bin/env bash
# Builds the agent image for amd64 and arm64 from the project's Dockerfile with
# podman (runc), and assembles the two as one OCI image index.
#   scripts/build-image.sh [NAME]     default localhost/bindsnoop-otel:<version>
# Makes NAME-amd64 and NAME-arm64 (images) and NAME (the index), and prints NAME.
# The image installs the npm package this checkout makes (scripts/pack.sh).
# No image registry is reachable here, so the base is a stand-in made locally
# per architecture and cached: Debian bookworm from Debian's archive
# (scripts/debian-root.sh) with the official Node.js 24 build from the npm
# registry (scripts/node-binary.sh) and npm. arm64 is built under emulation
# (qemu-user through binfmt_misc, which ./dev sets up).
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
VERSION=$(node -p 'require("./package.json").version')
NAME=${1:-localhost/bindsnoop-otel:$VERSION}
PODMAN=(podman --runtime runc)
say() { printf 'build-image: %s\n' "$*" >&2; }

tarball=$(scripts/pack.sh build/pack)
[ "$(basename "$tarball")" = "bindsnoop-otel-$VERSION.tgz" ] || { say "unexpected package $tarball"; exit 1; }
REVISION=$(tar -xzOf "$tarball" package/dist/build-info.json | node -p 'JSON.parse(require("fs").readFileSync(0, "utf8")).commit')
# the source's address, once the package names one: no label at all until then (an empty one says nothing)
SOURCE=$(node -p 'const p = require("./package.json"); (p.repository && (p.repository.url || p.repository)) || ""')
SOURCE_LABEL=()
[ -n "$SOURCE" ] && SOURCE_LABEL=(--label "org.opencontainers.image.source=$SOURCE")

base_image() {
  local arch=$1 nodearch=${1/amd64/x64}
  local node_dir node_version base rootfs
  node_dir=$(scripts/node-binary.sh "" "$nodearch")
  node_version=$(basename "$node_dir" | sed 's/.*-//')
  base=localhost/bindsnoop-base:bookworm-node$node_version-$arch
  if ! "${PODMAN[@]}" image exists "$base"; then
    rootfs=$(scripts/debian-root.sh bookworm "$arch")
    local tree
    tree=$(mktemp -d /var/tmp/bindsnoop-base.XXXXXX)
    cp -a "$rootfs/." "$tree/"
    rm -f "$tree/.complete"
    scripts/node-into-root.sh "$node_dir" "$(npm root -g)/npm" "$tree" /usr
    tar -C "$tree" -c . | "${PODMAN[@]}" import --arch "$arch" --os linux --change 'CMD ["/bin/bash"]' - "$base" >/dev/null
    rm -rf "$tree"
    say "base image $base"
  fi
  echo "$base"
}

"${PODMAN[@]}" manifest rm "$NAME" >/dev/null 2>&1 || true
"${PODMAN[@]}" manifest create "$NAME" >/dev/null
for arch in amd64 arm64; do
  base=$(base_image "$arch")
  "${PODMAN[@]}" build --quiet --platform "linux/$arch" \
    --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
    --build-arg BASE_IMAGE="$base" --build-arg VERSION="$VERSION" --build-arg REVISION="$REVISION" "${SOURCE_LABEL[@]}" \
    -t "$NAME-$arch" . >/dev/null
  "${PODMAN[@]}" manifest add "$NAME" "containers-storage:$NAME-$arch" >/dev/null
done
# keep the build cache of the last day; older dangling build stages only take disk
"${PODMAN[@]}" image prune -f --filter until=24h >/dev/null 2>&1 || true
echo "$NAME"
