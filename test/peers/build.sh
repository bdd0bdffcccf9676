#!/usr/bin/env bash
# Builds a test peer from its own modules with Go, once: test/peers/NAME holds a wrapper module (go.mod, go.sum,
# main.go) requiring the peer's modules at one release; the binary is cached under /var/cache/bindsnoop-peers by
# the hash of the module's files (so a changed go.sum builds again), with the Go module and build caches beside it.
# NAME/ldflags.sh, when there is one, prints the -ldflags (a version stamp).
# Prints the binary's path; the build's own output goes to stderr. Go is for these test peers only.
#   test/peers/build.sh NAME
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"
name=${1:?usage: test/peers/build.sh NAME}
[ -f "$name/go.mod" ] || { echo "build.sh: no test/peers/$name/go.mod" >&2; exit 2; }
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
[ -x "$GO" ] || { echo "build.sh: Go is needed to build the test peers (/usr/local/go/bin/go, or GO=...)" >&2; exit 1; }
CACHE=${BINDSNOOP_PEERS_CACHE:-/var/cache/bindsnoop-peers}
shopt -s nullglob
key=$(cd "$name" && cat go.mod go.sum ./*.go ./*.sh | sha256sum | cut -c1-16)
out=$CACHE/bin/$name-$key
if [ ! -x "$out" ]; then
  ldflags=""
  [ -x "$name/ldflags.sh" ] && ldflags=$("$name/ldflags.sh")
  mkdir -p "$CACHE/bin"
  started=$(date +%s)
  echo "build.sh: building $name from its modules ($("$GO" version))" >&2
  (cd "$name" && GOMODCACHE=$CACHE/gomod GOCACHE=$CACHE/gocache GOFLAGS=-mod=readonly CGO_ENABLED=0 GOTOOLCHAIN=local \
    "$GO" build -trimpath -ldflags="$ldflags" -o "$out.tmp" .) >&2
  mv "$out.tmp" "$out"
  echo "build.sh: built $name in $(( $(date +%s) - started )) s" >&2
  # older builds of this peer only take disk
  find "$CACHE/bin" -name "$name-*" ! -name "$(basename "$out")" -delete
fi
echo "$out"
