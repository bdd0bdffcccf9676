# shellcheck shell=bash
# Sourced by the test guests (matrix-guest.sh, package-guest.sh): binds by
# unusual executables, for test/helpers/exe-cases.ts to check. Each bind_helper
# prints its pid and its own /proc/self/exe ("exe PATH") before it binds; every
# line goes out as "<PREFIX> <case> <line>", the cases being deleted, memfd,
# mntns and deep.
#
#   exe_cases PREFIX WORKDIR HELPER [HELPER OPTIONS...]
exe_cases() {
  local prefix=$1 dir=$2 helper=$3
  shift 3
  local opts=("$@") spec=tcp,4,127.0.0.1,0 pid
  mkdir -p "$dir/ns"
  # deleted between its start and its bind
  cp "$helper" "$dir/deleted"
  mkfifo "$dir/go"
  "$dir/deleted" --wait "${opts[@]}" "$spec" < "$dir/go" > "$dir/deleted.out" &
  pid=$!
  exec 3> "$dir/go"
  for _ in $(seq 1 600); do grep -q '^netns' "$dir/deleted.out" && break; sleep 0.1; done
  rm "$dir/deleted"
  echo go >&3
  exec 3>&-
  wait "$pid"
  sed "s/^/$prefix deleted /" "$dir/deleted.out"
  # fileless: run from a memfd
  "$helper" --memfd "${opts[@]}" "$spec" | sed "s/^/$prefix memfd /"
  # on a tmpfs only its own mount namespace has
  unshare --mount --propagation private sh -c \
    "mount -t tmpfs exe-test '$dir/ns' && cp '$helper' '$dir/ns/binder' && exec '$dir/ns/binder' ${opts[*]} $spec" |
    sed "s/^/$prefix mntns /"
  # 19 directories of 200 bytes: a path of about 4,000 bytes
  (cd "$dir" && for _ in $(seq 19); do
    d=$(printf 'd%.0s' $(seq 200)); mkdir "$d" && cd "$d" || exit 1
  done && cp "$helper" binder && exec ./binder "${opts[@]}" "$spec") | sed "s/^/$prefix deep /"
  rm -rf "$dir"
}
