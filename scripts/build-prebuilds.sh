#!/usr/bin/env bash
# Builds the package's prebuilt addons, in prebuildify's layout, for every
# platform package.json's "bindsnoop.prebuilds" names:
#   native/prebuilds/linux-x64/bindsnoop.napi.glibc.node     (+ bindsnoop.bpf.o)
#   native/prebuilds/linux-arm64/bindsnoop.napi.glibc.node   (+ bindsnoop.bpf.o)
# Each addon embeds its architecture's BPF object (the skeleton) and links
# libbpf, libelf (elfutils) and zlib statically, each built with -fPIC from
# Debian's upstream tarball pinned by digest: a host needs neither libbpf nor
# libelf nor a compiler. They are built in a Debian 11 root (glibc 2.31, the
# stated baseline), arm64 with Debian's cross compiler, at one fixed path, so
# that two builds of one commit give the same bytes.
#   scripts/build-prebuilds.sh [OUTDIR]     default native/prebuilds
# Incremental: nothing is rebuilt when no input changed.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
OUT=$(readlink -f "${1:-native/prebuilds}")
say() { printf 'build-prebuilds: %s\n' "$*" >&2; }

LIBBPF_VERSION=$(node -p 'require("./package.json").bindsnoop.prebuilds.libbpf')
# Debian's upstream tarballs (trixie's versions), each pinned by its digest: name, digest
POOL=${DEBIAN_MIRROR:-http://deb.debian.org/debian}/pool/main
SOURCES=(
  "libb/libbpf/libbpf_${LIBBPF_VERSION}.orig.tar.gz 53492aff6dd47e4da04ef5e672d753b9743848bdb38e9d90eafbe190b7983c44"
  "e/elfutils/elfutils_0.192.orig.tar.bz2 616099beae24aba11f9b63d86ca6cc8d566d968b802391334c91df54eab416b4"
  "z/zlib/zlib_1.3.dfsg+really1.3.1.orig.tar.gz 60dd315c07f616887caa029408308a018ace66e3d142726a97db164b3b8f69fb"
)
SRC_CACHE=${BINDSNOOP_SRC_CACHE:-/var/cache/bindsnoop-src}
# the build root: Debian 11's compilers, libelf and zlib for amd64 and (multiarch) arm64
BUILD_PACKAGES=(g++ make python3 pkg-config libelf-dev zlib1g-dev g++-aarch64-linux-gnu libelf-dev:arm64 zlib1g-dev:arm64)

# the BPF objects and skeletons, one per architecture (bpf/Makefile)
make -s -C bpf ARCH=x86 OUTPUT=.output/x86
make -s -C bpf ARCH=arm64 OUTPUT=.output/arm64

inputs=$( { echo "${SOURCES[*]} ${BUILD_PACKAGES[*]}"; cat "$0" native/binding.gyp native/*.cc native/*.h bpf/bindsnoop.h \
  bpf/.output/x86/bindsnoop.skel.h bpf/.output/arm64/bindsnoop.skel.h node_modules/node-addon-api/package.json; \
  node -p 'process.versions.node'; } | sha256sum | cut -c1-16)
if [ -f "$OUT/.inputs" ] && [ "$(cat "$OUT/.inputs")" = "$inputs" ]; then
  echo "$OUT"
  exit 0
fi
# a fresh clone reuses the build of the same inputs (BINDSNOOP_PREBUILDS_FRESH=1 builds anew)
CACHED=${BINDSNOOP_PREBUILD_CACHE:-/var/cache/bindsnoop-prebuilds}/$inputs
if [ -z "${BINDSNOOP_PREBUILDS_FRESH:-}" ] && [ -f "$CACHED/.inputs" ]; then
  rm -rf "$OUT" && mkdir -p "$(dirname "$OUT")" && cp -a "$CACHED" "$OUT"
  echo "$OUT"
  exit 0
fi

mkdir -p "$SRC_CACHE"
tarballs=()
for entry in "${SOURCES[@]}"; do
  rel=${entry% *} digest=${entry#* }
  tarball=$SRC_CACHE/$(basename "$rel")
  if ! echo "$digest  $tarball" | sha256sum -c --status 2>/dev/null; then
    say "fetching $POOL/$rel"
    curl -fsSL -o "$tarball.tmp" "$POOL/$rel"
    echo "$digest  $tarball.tmp" | sha256sum -c --status || { say "digest mismatch: $POOL/$rel"; rm -f "$tarball.tmp"; exit 1; }
    mv "$tarball.tmp" "$tarball"
  fi
  tarballs+=("$tarball")
done
root=$(scripts/debian-root.sh bullseye amd64 "${BUILD_PACKAGES[@]}")
NODE_DIR=$(scripts/node-binary.sh)

# one build at a time in the root, always at /build
exec 9>"$root/.build-lock"
flock 9
b=$root/build
rm -rf "$b"
mkdir -p "$b/node_modules" "$b/node"
for t in "${tarballs[@]}"; do tar -xf "$t" -C "$b"; done
cp -a "$NODE_DIR/bin" "$NODE_DIR/include" "$b/node/"
for arch in x64 arm64; do
  bpfarch=${arch/x64/x86}
  mkdir -p "$b/$arch/native" "$b/$arch/skel" "$b/bpf"
  cp native/binding.gyp native/*.cc native/*.h "$b/$arch/native/"
  cp "bpf/.output/$bpfarch/bindsnoop.skel.h" "$b/$arch/skel/"
done
cp bpf/bindsnoop.h "$b/bpf/"
ln -s ../bpf "$b/x64/bpf"
ln -s ../bpf "$b/arm64/bpf"

cat > "$b/build.sh" <<'EOF'
set -eu
export PATH=/build/node/bin:$PATH HOME=/build SOURCE_DATE_EPOCH=0 LC_ALL=C
libbpf_src=$(echo /build/libbpf-*/src)
for arch in x64 arm64; do
  case $arch in
    x64) cross= host=x86_64-linux-gnu ;;
    arm64) cross=aarch64-linux-gnu- host=aarch64-linux-gnu ;;
  esac
  deps=/build/$arch/deps
  # zlib and libelf as position-independent static libraries, to be linked into a shared object
  # (Debian's libelf.a is not: its thread-local error state takes a relocation a shared object cannot have)
  cp -a /build/zlib-* /build/$arch/zlib && cd /build/$arch/zlib
  CC=${cross}gcc AR=${cross}ar CFLAGS="-O2 -fPIC" ./configure --static --prefix="$deps" >configure.log 2>&1 || { tail -20 configure.log; exit 1; }
  make -s install >/dev/null
  cp -a /build/elfutils-* /build/$arch/elfutils && cd /build/$arch/elfutils
  ./configure --host=$host CFLAGS="-O2 -fPIC -ffile-prefix-map=/build=. -I$deps/include" LDFLAGS="-L$deps/lib" \
    --disable-debuginfod --disable-libdebuginfod --without-bzlib --without-lzma --without-zstd --disable-nls >configure.log 2>&1 || { tail -20 configure.log; exit 1; }
  make -s -C lib >/dev/null 2>&1
  make -s -C libelf libelf_pic.a >/dev/null 2>&1
  install -m 0644 libelf/libelf_pic.a "$deps/lib/libelf.a"
  install -m 0644 lib/libeu.a "$deps/lib/libeu.a"
  install -m 0644 libelf/libelf.h libelf/gelf.h libelf/nlist.h "$deps/include/"
  # libbpf
  make -s -C "$libbpf_src" BUILD_STATIC_ONLY=1 CC=${cross}gcc AR=${cross}ar \
    CFLAGS="-O2 -fPIC -ffile-prefix-map=/build=. -I$deps/include" \
    OBJDIR=/build/$arch/libbpf-obj DESTDIR=/build/$arch/libbpf PREFIX= LIBDIR=/lib INCLUDEDIR=/include UAPIDIR=/include/uapi \
    install install_uapi_headers >/dev/null
  cp "$deps"/lib/*.a /build/$arch/libbpf/lib/
  cd /build/$arch/native
  CC=${cross}gcc CXX=${cross}g++ AR=${cross}ar LINK=${cross}g++ \
    node /build/node_modules/node-gyp/bin/node-gyp.js rebuild --loglevel=warn --arch=$arch --nodedir=/build/node \
    -- -Dlibbpf_static=/build/$arch/libbpf -Dskel_dir=/build/$arch/skel >/dev/null
  ${cross}strip --strip-unneeded -o /build/$arch/bindsnoop.node build/Release/bindsnoop.node
done
EOF
say "building the addons for linux-x64 and linux-arm64 in $root"
unshare -m bash -c "
  set -e
  mount --bind /proc '$root/proc'
  mount --bind /dev '$root/dev'
  mount --bind -o ro '$PWD/node_modules' '$b/node_modules'
  # a clean environment: npm's npm_config_* (nodedir, arch) would steer node-gyp away from /build/node
  chroot '$root' /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin bash /build/build.sh
"

tmp=$(mktemp -d "$(dirname "$OUT")/.prebuilds.XXXXXX")
for arch in x64 arm64; do
  bpfarch=${arch/x64/x86}
  install -D -m 0644 "$b/$arch/bindsnoop.node" "$tmp/linux-$arch/bindsnoop.napi.glibc.node"
  install -m 0644 "bpf/.output/$bpfarch/bindsnoop.bpf.o" "$tmp/linux-$arch/bindsnoop.bpf.o"
done
# the licenses of what the addons link statically
mkdir -p "$tmp/licenses"
for f in "$b"/libbpf-*/LICENSE*; do cp "$f" "$tmp/licenses/libbpf-$(basename "$f")"; done
for f in "$b"/elfutils-*/COPYING "$b"/elfutils-*/COPYING-GPLV2 "$b"/elfutils-*/COPYING-LGPLV3; do cp "$f" "$tmp/licenses/elfutils-$(basename "$f")"; done
cp "$b"/zlib-*/LICENSE "$tmp/licenses/zlib-LICENSE"
# what the loader checks each prebuild against before it maps it (a damaged file can crash dlopen)
(cd "$tmp" && sha256sum linux-*/*.node > SHA256SUMS)
echo "$inputs" > "$tmp/.inputs"
rm -rf "$b" "$OUT"
if [ -z "${BINDSNOOP_PREBUILDS_FRESH:-}" ]; then
  mkdir -p "$(dirname "$CACHED")" && rm -rf "$CACHED.tmp" && cp -a "$tmp" "$CACHED.tmp" && rm -rf "$CACHED" && mv "$CACHED.tmp" "$CACHED"
fi
mv "$tmp" "$OUT"
echo "$OUT"
