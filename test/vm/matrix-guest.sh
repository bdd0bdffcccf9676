#!/usr/bin/env bash
# Runs inside a test VM (test/vm/boot.sh): the shipped CLI, with the real addon
# and Node, under each backend the kernel offers, against real binds:
# bind(2) with each option letter, IPv4 and IPv6, TCP, UDP and MPTCP, a failed bind,
# from a kubelet-shaped cgroup; io_uring's IORING_OP_BIND; a VXLAN device's
# in-kernel UDP socket; binds by executables that are deleted, run from a memfd,
# on a mount of another mount namespace, or at the end of a 4,000-byte path. Prints lines test/integration/kernels.test.ts parses:
#   KERNEL <release>
#   AUTO <bindsnoop's backend line>
#   BACKEND <name> ok | BACKEND <name> unavailable: <bindsnoop's stderr>
#   HELPER <name> [mptcp|uring|deleted|memfd|mntns|deep] <bind_helper/uring_bind output line>
#   EVENT <name> <one JSON object of bindsnoop -o json>
#   OTELCOL <one ExportLogsServiceRequest the OpenTelemetry Collector's file exporter wrote (OTLP/JSON)>
#                               (with a Collector binary named in $ROOT/build/vm-otelcol: what fentry sees and the
#                               host cannot, io_uring's and the kernel's own binds, exported to a real Collector)
# With PKG_UPPER PKG_LOWER UID, also the npm package as a user installed it in a
# clean Debian root (test/helpers/package-root.ts: the root, and the overlay
# directory holding Node.js and the package), its prebuilt addon and its Node:
#   PKGVERSION <bindsnoop --version>
#   PKGAUTO <its backend line>
#   PKGBIND <pid> <port>        a bind by node in that root, as user UID
#   PKGEVENT <one JSON object of its bindsnoop -o json -u UID>
#   HANDOVER <backend> made=N <the restarted daemon's counters> collected={"records":N,"duplicates":N}
#                               (a daemon with handover killed in a flood and started again, exporting to a Collector)
#   HANDOVERCLEANUP <backend> <bindsnoop cleanup's line>
#   MATRIX DONE
set -u
ROOT=${1:?repo root}
PKG_UPPER=${2:-} PKG_LOWER=${3:-} PKG_UID=${4:-}
cd "$ROOT" || exit 1
CLI=(node "$ROOT/dist/cli/main.js")
HELPER=$ROOT/test/helpers/bind_helper
# shellcheck source=exe-cases.sh
. "$ROOT/test/vm/exe-cases.sh"
URING=$ROOT/test/helpers/uring_bind
SLICE=/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod11111111_2222_4333_8444_555555555555.slice
SCOPE=$SLICE/cri-containerd-$(printf 'a%.0s' {1..64}).scope
ip link set lo up
mkdir -p "$SCOPE"
echo  # the console's first line carries the firmware's escape sequences
echo "KERNEL $(uname -r)"

# start bindsnoop with these flags, wait until it traces; 1 if it exited instead
start() {
  local name=$1
  shift
  "${CLI[@]}" "$@" > "$TMPDIR/$name.out" 2> "$TMPDIR/$name.err" &
  pid=$!
  for _ in $(seq 1 600); do
    grep -q 'Tracing binds' "$TMPDIR/$name.err" "$TMPDIR/$name.out" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# SIGINT, and wait for the exit; a bindsnoop that does not exit within a minute is reported with where each of
# its threads is in the kernel (HANG lines), then killed, so the matrix goes on and the test says why
stop() {
  sleep 0.5 # the reader drains every 50 ms
  kill -INT "$pid"
  for _ in $(seq 1 600); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    for t in /proc/"$pid"/task/*; do
      echo "HANG $(cat "$t/comm" 2>/dev/null) $(tr '\n' ' ' < "$t/stack" 2>/dev/null)"
    done
    kill -KILL "$pid"
  fi
  wait "$pid"
}

start auto -o json
echo "AUTO $(grep 'tracing with' "$TMPDIR/auto.err")"
stop

uring=no
case "$(uname -r)" in
  5.* | 6.[0-9].* | 6.10.*) ;;
  *) uring=yes ;;
esac

for b in fentry kprobe tracepoint hide; do
  if [ "$b" = hide ]; then
    flags=(--backend fentry --no-kernel-binds)
  else
    flags=(--backend "$b")
  fi
  if ! start "$b" -o json -E -K "${flags[@]}"; then
    echo "BACKEND $b unavailable: $(tr '\n' ' ' < "$TMPDIR/$b.err")"
    continue
  fi
  echo "BACKEND $b ok"
  "$HELPER" --cgroup "$SCOPE" \
    tcp,4,127.0.0.1,0,F tcp,4,127.0.0.1,0,T tcp,4,127.0.0.1,0,N tcp,4,127.0.0.1,0,R tcp,4,127.0.0.1,0,r \
    udp,6,::1,0,- tcp,6,::1,7001,- udp,4,127.0.0.1,7002,- \
    tcp,4,127.0.0.1,7003,FTNRr tcp,4,127.0.0.1,7003,- | sed "s/^/HELPER $b /"
  # MPTCP where the kernel has it (Debian's 5.10 does not)
  if [ -d /proc/sys/net/mptcp ]; then
    "$HELPER" --cgroup "$SCOPE" mptcp,4,127.0.0.1,0,- mptcp,6,::1,0,- | sed "s/^/HELPER $b mptcp /"
  fi
  if [ "$uring" = yes ]; then "$URING" 127.0.0.1 7100 | sed "s/^/HELPER $b uring /"; fi
  ip link add vx0 type vxlan id 42 dstport 4789 local 127.0.0.1 dev lo && ip link set vx0 up && ip link del vx0
  exe_cases "HELPER $b" "$TMPDIR/exe-$b" "$HELPER"
  stop
  sed "s/^/EVENT $b /" "$TMPDIR/$b.out"
done

# the Collector on 127.0.0.1:4318, writing what it receives to $TMPDIR/NAME.jsonl (its log in NAME.err); cpid its pid
start_collector() {
  printf '%s\n' \
    'receivers: {otlp: {protocols: {http: {endpoint: "127.0.0.1:4318"}}}}' \
    "exporters: {file: {path: \"$TMPDIR/$1.jsonl\", format: json, flush_interval: 100ms}}" \
    'service: {telemetry: {metrics: {level: none}}, pipelines: {logs: {receivers: [otlp], exporters: [file]}}}' \
    > "$TMPDIR/$1.yaml"
  "$COLLECTOR" --config="$TMPDIR/$1.yaml" 2> "$TMPDIR/$1.err" &
  cpid=$!
  for _ in $(seq 1 1200); do grep -q 'Everything is ready' "$TMPDIR/$1.err" && break; sleep 0.1; done
}

# io_uring's and the kernel's own binds, through the real OpenTelemetry Collector (the host's tracepoints see neither)
COLLECTOR=$(cat "$ROOT/build/vm-otelcol" 2>/dev/null || true)
if [ -n "$COLLECTOR" ] && [ -x "$COLLECTOR" ]; then
  start_collector otelcol
  if OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 BINDSNOOP_OTLP_FLUSH_INTERVAL_MILLIS=50 start otelcol -o json -E; then
    if [ "$uring" = yes ]; then "$URING" 127.0.0.1 7200 | sed "s/^/HELPER otelcol uring /"; fi
    ip link add vx1 type vxlan id 43 dstport 4790 local 127.0.0.1 dev lo && ip link set vx1 up && ip link del vx1
    "$HELPER" tcp,4,127.0.0.1,0,R sctp,4,127.0.0.1,0,- sctp,6,::1,0,- | sed "s/^/HELPER otelcol /"
    stop
    sed "s/^/EVENT otelcol /" "$TMPDIR/otelcol.out"
  else
    echo "BACKEND otelcol unavailable: $(tr '\n' ' ' < "$TMPDIR/otelcol.err")"
  fi
  sleep 1 # the file exporter flushes every 100 ms
  kill -TERM "$cpid"
  wait "$cpid"
  sed "s/^/OTELCOL /" "$TMPDIR/otelcol.jsonl"
fi

# handover: a daemon killed (SIGKILL) in the middle of a flood and started again, under each backend, exporting to
# a Collector; prints HANDOVER <backend> made=N <its counters> collected=<count-records.mjs's line>, or
# HANDOVER <backend> unavailable: <the daemon's last log message>
if [ -n "$COLLECTOR" ] && [ -x "$COLLECTOR" ]; then
  HO=/sys/fs/bpf/handover
  metrics() { node -e "fetch('http://127.0.0.1:$1/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))"; }
  daemon() { # name port backend: started and serving, else 1
    BINDSNOOP_HANDOVER_ENABLED=true BINDSNOOP_HANDOVER_PIN_DIR=$HO BINDSNOOP_FILTER_UID=4242 BINDSNOOP_SERVER_PORT=$2 \
      BINDSNOOP_SERVER_HOST=127.0.0.1 BINDSNOOP_KERNEL_BACKEND=$3 OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 \
      BINDSNOOP_OTLP_FLUSH_INTERVAL_MILLIS=50 "${CLI[@]}" --daemon 2> "$TMPDIR/$1.err" &
    dpid=$!
    for _ in $(seq 1 1200); do
      grep -q '"msg":"serving' "$TMPDIR/$1.err" && return 0
      kill -0 "$dpid" 2>/dev/null || return 1
      sleep 0.1
    done
    return 1
  }
  for b in fentry kprobe tracepoint; do
    start_collector "ho-$b"
    if ! daemon "ho1-$b" 9301 "$b"; then
      echo "HANDOVER $b unavailable: $(grep -o '"msg":"[^"]*"' "$TMPDIR/ho1-$b.err" | tail -1)"
      kill -TERM "$cpid"; wait "$cpid"
      "${CLI[@]}" cleanup --pin-dir "$HO" > /dev/null 2>&1
      continue
    fi
    "$HELPER" --uid 4242 --repeat 1000000 --rate 300 --seconds 16 udp,4,127.0.0.1,+30000 > "$TMPDIR/ho-flood-$b" &
    hpid=$!
    sleep 3
    kill -KILL "$dpid"
    wait "$dpid" 2>/dev/null
    sleep 1
    if daemon "ho2-$b" 9302 "$b"; then
      wait "$hpid"
      sleep 3 # the ring read, the rest exported
      m=$(metrics 9302 | grep -E '^bindsnoop_(events_total|events_lost_total|handover_)' | tr '\n' ';')
      kill -TERM "$dpid"
      wait "$dpid"
      sleep 1 # the file exporter flushes every 100 ms
      kill -TERM "$cpid"
      wait "$cpid"
      echo "HANDOVER $b made=$(sed -n 's/^done //p' "$TMPDIR/ho-flood-$b") $m collected=$(node "$ROOT/test/vm/count-records.mjs" "$TMPDIR/ho-$b.jsonl" 4242)"
    else
      echo "HANDOVER $b restart failed: $(grep -o '"msg":"[^"]*"' "$TMPDIR/ho2-$b.err" | tail -1)"
      kill "$hpid" "$cpid"
      wait "$hpid" "$cpid"
    fi
    echo "HANDOVERCLEANUP $b $("${CLI[@]}" cleanup --pin-dir "$HO" 2>&1) $([ -e "$HO" ] && echo left)"
  done
fi

if [ -n "$PKG_UPPER" ]; then
  # a read-only overlay of the two: the installed root as the host's test saw it
  m=/run/pkgroot
  mkdir -p "$m"
  mount -t overlay overlay -o "lowerdir=$PKG_UPPER:$PKG_LOWER" "$m"
  mount --rbind /proc "$m/proc"
  mount --rbind /sys "$m/sys"
  mount --rbind /dev "$m/dev"
  mount -t tmpfs tmpfs "$m/tmp"
  in_pkg=(chroot "$m" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp)
  echo "PKGVERSION $("${in_pkg[@]}" bindsnoop --version 2>&1)"
  CLI=("${in_pkg[@]}" bindsnoop)
  if start pkg -o json -u "$PKG_UID"; then
    echo "PKGAUTO $(grep 'tracing with' "$TMPDIR/pkg.err")"
    "${in_pkg[@]}" node -e "process.setuid($PKG_UID); const s = require('net').createServer().listen(0, '127.0.0.1', () => { console.log(process.pid, s.address().port); s.close(); })" | sed 's/^/PKGBIND /'
    stop
    sed 's/^/PKGEVENT /' "$TMPDIR/pkg.out"
  else
    echo "PKGAUTO failed: $(tr '\n' ' ' < "$TMPDIR/pkg.err")"
  fi
fi
echo "MATRIX DONE"
