#!/usr/bin/env bash
# Makes a Debian 12 base image for docker/Dockerfile where no image registry can be reached.
#
#   bash scripts/base-image.sh [TAG]        # prints the image to use as DEBIAN_IMAGE
#
# 1. TAG (default r1rl-base:bookworm) already exists: it is reused (the cache).
# 2. `docker pull debian:12` works: that image is tagged TAG.
# 3. Otherwise debootstrap --variant=minbase builds a root from the Debian mirror that apt
#    already uses here (~65 s) and `docker import` turns it into TAG.
# Progress goes to stderr; stdout is only the tag, so callers can capture it.
set -euo pipefail

tag="${1:-r1rl-base:bookworm}"
suite=bookworm
log() { echo "base-image: $*" >&2; }

if docker image inspect "$tag" >/dev/null 2>&1; then
  log "$tag exists, reused"
  echo "$tag"
  exit 0
fi

if timeout 60 docker pull -q debian:12 >/dev/null 2>&1; then
  docker tag debian:12 "$tag"
  log "pulled debian:12 as $tag"
  echo "$tag"
  exit 0
fi
log "debian:12 cannot be pulled; building $tag with debootstrap"

# The mirror apt uses on this machine (deb822 sources or the classic one-line format).
mirror="$(grep -rhE '^(URIs:|deb) ' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
  | grep -oE 'https?://[^ ]+/debian/?( |$)' | head -n 1 | tr -d ' ' || true)"
mirror="${mirror:-http://deb.debian.org/debian}"
mirror="${mirror%/}"

if ! command -v debootstrap >/dev/null; then
  log "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
fi

root="$(mktemp -d /tmp/r1rl-base.XXXXXX)"
trap 'rm -rf "$root"' EXIT
start=$(date +%s)
debootstrap --variant=minbase "$suite" "$root" "$mirror" >&2
# The image's apt reads the same mirror plus security updates; no caches in the image.
cat > "$root/etc/apt/sources.list" <<EOF
deb ${mirror} ${suite} main
deb ${mirror} ${suite}-updates main
deb ${mirror%/debian*}/debian-security ${suite}-security main
EOF
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["bash"]' - "$tag" >/dev/null
log "built $tag from $mirror in $(( $(date +%s) - start )) s"
echo "$tag"
