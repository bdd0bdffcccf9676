# Sourced by scripts/debian-*.sh: a private apt configuration for Debian's
# bullseye, bookworm and trixie archives (amd64 and arm64), with its own
# sources list, lists and cache under $CACHE/apt, so the machine's own apt
# sources and dpkg database are never changed. Defines CACHE and APT (the
# options to pass to apt-get and apt-cache).
CACHE=${BINDSNOOP_KERNEL_CACHE:-/var/cache/bindsnoop-kernels}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
APTDIR=$CACHE/apt
mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
{
  for s in bullseye bookworm trixie; do
    echo "deb [signed-by=$keyring] $MIRROR $s main"
    echo "deb [signed-by=$keyring] $SECURITY_MIRROR $s-security main"
  done
} > "$APTDIR/sources.list"
APT=(-o "Dir::Etc::SourceList=$APTDIR/sources.list" -o Dir::Etc::SourceParts=/dev/null
     -o "Dir::State::Lists=$APTDIR/lists" -o "Dir::Cache=$APTDIR/cache" -o Dir::State::status=/dev/null
     -o APT::Architectures::=amd64 -o APT::Architectures::=arm64 -o APT::Sandbox::User=root -q)

