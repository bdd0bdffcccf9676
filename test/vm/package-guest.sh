#!/bin/bash
# Runs inside a test VM (test/vm/boot.sh with BINDSNOOP_VM_ROOT) whose root is
# a clean Debian root where the npm package was installed with npm install -g:
# its bindsnoop, its prebuilt addon and the official Node.js, in the guest's
# kernel and architecture. Prints lines test/integration/package.test.ts parses:
#   KERNEL <release> <machine>
#   PKGVERSION <bindsnoop --version>
#   PKGAUTO <its backend line>
#   PKGNODE <the node executable's real path>
#   PKGBIND <pid> <port>          a bind by node as user UID
#   PKGEXIT <bindsnoop's exit status on SIGINT>
#   PKGEVENT <one JSON object of bindsnoop -o json -u UID>
#   PKGHELPER <case> <line>       with a bind_helper in TESTDIR: binds by unusual executables (exe-cases.sh)
#   MATRIX DONE
set -u
UID_=${1:?uid}
TESTDIR=/usr/local/lib/bindsnoop-test
echo  # the console's first line carries the firmware's escape sequences
echo "KERNEL $(uname -r) $(uname -m)"
echo "PKGVERSION $(bindsnoop --version 2>&1)"
bindsnoop -o json -u "$UID_" > "$TMPDIR/pkg.out" 2> "$TMPDIR/pkg.err" &
pid=$!
# emulated: starting Node.js and loading the programs take a while
for _ in $(seq 1 3000); do
  grep -q 'Tracing binds' "$TMPDIR/pkg.err" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
echo "PKGAUTO $(grep 'tracing with' "$TMPDIR/pkg.err" || tr '\n' ' ' < "$TMPDIR/pkg.err")"
echo "PKGNODE $(readlink -f "$(command -v node)")"
# INADDR_ANY: a minimal root has no tool to bring the loopback device up
node -e "process.setuid($UID_); const s = require('net').createServer().listen(0, '0.0.0.0', () => { console.log(process.pid, s.address().port); s.close(); })" | sed 's/^/PKGBIND /'
if [ -x "$TESTDIR/bind_helper" ]; then
  # shellcheck source=exe-cases.sh
  . "$TESTDIR/exe-cases.sh"
  # their own network namespace brings its loopback up; then they become the traced user
  exe_cases PKGHELPER "$TMPDIR/exe" "$TESTDIR/bind_helper" --netns --uid "$UID_"
fi
sleep 1
kill -INT "$pid"
wait "$pid"
echo "PKGEXIT $?"
sed 's/^/PKGEVENT /' "$TMPDIR/pkg.out"
echo "MATRIX DONE"
