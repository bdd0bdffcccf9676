#!/usr/bin/env bash
# The version stamp Kubernetes's own build gives its binaries (hack/lib/version.sh), for the release go.mod
# requires: kubectl and helm read it (a chart's kubeVersion is checked against it). The build date is fixed: the
# same modules give the same binary.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"
version=$(sed -n 's/^\(require \)\{0,1\}[[:space:]]*k8s\.io\/kubernetes \(v[0-9.]*\)$/\2/p' go.mod)
[[ $version =~ ^v([0-9]+)\.([0-9]+)\.[0-9]+$ ]] || { echo "ldflags.sh: no k8s.io/kubernetes release in go.mod" >&2; exit 1; }
flags=()
for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
  flags+=("-X '$pkg.gitVersion=$version'" "-X '$pkg.gitMajor=${BASH_REMATCH[1]}'" "-X '$pkg.gitMinor=${BASH_REMATCH[2]}'"
    "-X '$pkg.gitTreeState=clean'" "-X '$pkg.buildDate=1970-01-01T00:00:00Z'")
done
echo "${flags[*]}"
