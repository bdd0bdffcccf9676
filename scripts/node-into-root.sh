#!/usr/bin/env bash
# Puts the official Node.js build NODE_DIR and npm (NPM_DIR) into the root
# filesystem TREE under PREFIX (/usr or /usr/local), with this machine's way
# to the npm registry: its CA bundle (beside the root's own) and its npm
# settings, as a user's install would have.
#   scripts/node-into-root.sh NODE_DIR NPM_DIR TREE PREFIX
set -euo pipefail
NODE_DIR=${1:?node dir} NPM_DIR=${2:?npm dir} TREE=${3:?tree} PREFIX=${4:?prefix}
install -D -m 0755 "$NODE_DIR/bin/node" "$TREE$PREFIX/bin/node"
mkdir -p "$TREE$PREFIX/lib/node_modules" "$TREE$PREFIX/etc"
cp -a "$NPM_DIR" "$TREE$PREFIX/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$TREE$PREFIX/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$TREE$PREFIX/bin/npx"
install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$TREE/etc/ssl/machine-ca-bundle.crt"
{ grep -v '^cafile=' "$(npm config get globalconfig)" 2>/dev/null || true; echo 'cafile=/etc/ssl/machine-ca-bundle.crt'; } > "$TREE$PREFIX/etc/npmrc"
