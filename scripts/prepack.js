#!/usr/bin/env node
// npm pack and npm publish run this first: a package without its prebuilt addons and BPF skeletons cannot install
// (it would try to build the addon and fail on a missing bindsnoop.skel.h), so it is refused here, in one line,
// unless the files are there. scripts/pack.sh (./dev pack) builds them, then packs.
'use strict';
const { existsSync, readdirSync } = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const pkg = require(path.join(root, 'package.json'));
const missing = [];
for (const file of ['dist/cli/main.js', 'dist/build-info.json', 'bpf/.output/x86/bindsnoop.skel.h', 'bpf/.output/arm64/bindsnoop.skel.h']) {
  if (!existsSync(path.join(root, file))) missing.push(file);
}
for (const platform of pkg.bindsnoop.prebuilds.platforms) {
  const dir = path.join(root, 'native', 'prebuilds', platform);
  if (!existsSync(dir) || !readdirSync(dir).some((f) => f.endsWith('.node'))) missing.push(`native/prebuilds/${platform}/*.node`);
}
if (missing.length > 0) {
  process.stderr.write(`bindsnoop-otel: the package would lack ${missing.join(', ')}: make it with ./dev pack (scripts/pack.sh builds the prebuilt addons, then packs), not with a bare npm pack or npm publish\n`);
  process.exit(1);
}
