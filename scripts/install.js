#!/usr/bin/env node
// The package's install step (npm runs it; a checkout builds with ./dev and skips it).
// The prebuilt addon that fits this host is loaded once in a child process, so
// a broken one cannot take npm down; when none fits (another architecture, a
// C library that is not glibc, --build-from-source) the addon is built from
// the shipped sources with npm's node-gyp against the host's libbpf. When that
// fails too, the install fails with one message saying what is missing.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const say = (line) => process.stderr.write(`bindsnoop-otel: ${line}\n`);

// a checkout has the BPF program's source and builds everything itself
if (existsSync(path.join(root, 'bpf', 'bindsnoop.bpf.c'))) process.exit(0);

const fromSource = /^(true|1|bindsnoop-otel)$/.test(process.env.npm_config_build_from_source ?? '');
if (!fromSource) {
  // the loader's own one-line reason, not a stack to pick it out of
  const loader = JSON.stringify(path.join(root, 'dist', 'kernel', 'addon-file.js'));
  const probe = spawnSync(process.execPath, ['-e', `try { require(${loader}).loadAddonFile(); } catch (e) { process.stderr.write(e.message); process.exit(1); }`], {
    encoding: 'utf8',
  });
  if (probe.status === 0) process.exit(0);
  say(`${probe.stderr.trim() || `the prebuilt addon does not load (status ${probe.status ?? probe.signal})`}; building it from source`);
}

// the BPF skeleton of the architecture: the package carries x86's and arm64's
const bpfArch = { x64: 'x86', arm64: 'arm64' }[process.arch];
if (!bpfArch) {
  say(`cannot build the addon for ${process.arch}: the package carries the BPF program for x64 and arm64 only`);
  process.exit(1);
}
// a package packed without its build (a bare npm pack) has no skeleton: say that, not that tools are missing
const skeleton = path.join(root, 'bpf', '.output', bpfArch, 'bindsnoop.skel.h');
if (!existsSync(skeleton)) {
  say(`this package lacks ${path.relative(root, skeleton)} (and so its prebuilt addons): it was packed without its build; make the package with ./dev pack (scripts/pack.sh)`);
  process.exit(1);
}
const nodeGyp = process.env.npm_config_node_gyp;
const gyp = nodeGyp ? [process.execPath, nodeGyp] : ['node-gyp'];
const build = spawnSync(gyp[0], [...gyp.slice(1), 'rebuild', '--loglevel=warn', '--', `-Dskel_dir=../bpf/.output/${bpfArch}`], {
  cwd: path.join(root, 'native'),
  stdio: ['ignore', 'inherit', 'pipe'],
  encoding: 'utf8',
});
if (build.status !== 0) {
  const error = build.error?.message ?? build.stderr.split('\n').find((l) => /error|not found/i.test(l)) ?? `status ${build.status}`;
  process.stderr.write(build.stderr.slice(-2000));
  // name what is missing, and only that: a failure with every tool present is the failure itself
  const onPath = (name) => spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
  const missing = [
    !onPath('make') && 'make',
    !(onPath('c++') || onPath('g++') || onPath('clang++')) && 'a C++ compiler',
    !onPath('python3') && 'python3',
    !['/usr/include/bpf/libbpf.h', '/usr/local/include/bpf/libbpf.h'].some((h) => existsSync(h)) && "libbpf 1.x's headers",
  ].filter(Boolean);
  say(
    `building the native addon from source failed (${error.trim()}); ` +
      (missing.length
        ? `missing: ${missing.join(', ')} (Debian and Ubuntu: apt install make g++ python3 libbpf-dev)`
        : 'make, a C++ compiler, python3 and libbpf\'s headers are all here, so the error above is the cause') +
      '. Prebuilt: linux-x64 and linux-arm64 with glibc 2.31 or newer',
  );
  process.exit(1);
}
