#!/usr/bin/env bash
# Pins kube-apiserver to a Kubernetes release: writes go.mod requiring k8s.io/kubernetes at VERSION (v1.MINOR.PATCH)
# with each staging module it requires at v0.0.0 replaced by the same release (v0.MINOR.PATCH), the list read
# from that release's own go.mod, then go mod tidy. Modules it replaces but no one requires are left out (the
# sample ones are not published).
#   test/peers/kube-apiserver/pin.sh v1.37.2
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"
version=${1:?usage: pin.sh v1.MINOR.PATCH}
[[ $version =~ ^v1\.([0-9]+\.[0-9]+)$ ]] || { echo "pin.sh: $version is not v1.MINOR.PATCH" >&2; exit 2; }
staging=v0.${BASH_REMATCH[1]}
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
CACHE=${BINDSNOOP_PEERS_CACHE:-/var/cache/bindsnoop-peers}
export GOMODCACHE=$CACHE/gomod GOCACHE=$CACHE/gocache GOTOOLCHAIN=local GOFLAGS=-mod=mod
upstream=$("$GO" mod download -json "k8s.io/kubernetes@$version" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
required=$(sed -n 's/^\t\(k8s\.io\/[a-z0-9-]*\) v0\.0\.0$/\1/p' "$upstream" | sort -u)
{
  sed -n '1,/^module /{/^module /!p}' go.mod
  printf 'module bindsnoop.test/kube-apiserver\n\ngo %s\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' \
    "$(sed -n 's/^go //p' "$upstream")" "$version"
  for m in $required; do printf '\t%s => %s %s\n' "$m" "$m" "$staging"; done
  printf ')\n'
} > go.mod.new
mv go.mod.new go.mod
rm -f go.sum
"$GO" mod tidy
