#!/usr/bin/env bash
# Builds the images deploy/compose runs, without an image registry:
#
#   bash scripts/build-images.sh [--build-dir DIR] [--from-source] [--tag TAG]
#
#   r1rl:TAG             the five binaries. Default: packaged from DIR/bin (default build,
#                        after `make build`) with docker/Dockerfile.prebuilt, about a minute.
#                        --from-source: docker/Dockerfile's multi-stage build (BuildKit).
#   r1rl-prometheus:TAG  Prometheus from Debian's package (docker/Dockerfile.prometheus).
#
# The Debian base comes from scripts/base-image.sh (pulled, or debootstrapped once and
# cached by tag). Prints each image's build time and size.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build
from_source=0
tag=latest
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir="$2"; shift 2 ;;
    --from-source) from_source=1; shift ;;
    --tag) tag="$2"; shift 2 ;;
    *) echo "build-images: unknown argument '$1' (--build-dir DIR, --from-source, --tag TAG)" >&2
       exit 2 ;;
  esac
done

log() { echo "build-images: $*" >&2; }
size() { docker image inspect -f '{{.Size}}' "$1" | awk '{printf "%.0f MB", $1 / 1e6}'; }

base="$(bash scripts/base-image.sh)"

start=$(date +%s)
docker build -q -f docker/Dockerfile.prometheus --build-arg DEBIAN_IMAGE="$base" \
  -t "r1rl-prometheus:$tag" docker >/dev/null
log "r1rl-prometheus:$tag in $(( $(date +%s) - start )) s, $(size "r1rl-prometheus:$tag")"

start=$(date +%s)
if [ "$from_source" = 1 ]; then
  # BuildKit (the ccache cache mount): a client with buildx, or Debian's docker.io 20.10
  # client, which has BuildKit built in.
  docker_cli=docker
  if ! docker buildx version >/dev/null 2>&1 && [ -x /usr/bin/docker ]; then
    docker_cli=/usr/bin/docker
  fi
  DOCKER_BUILDKIT=1 "$docker_cli" build -f docker/Dockerfile --build-arg DEBIAN_IMAGE="$base" \
    -t "r1rl:$tag" .
  log "r1rl:$tag from source in $(( $(date +%s) - start )) s, $(size "r1rl:$tag")"
else
  binaries=(r1rl r1rl-learner r1rl-rollout-worker r1rl-reward-grader r1rl-param-broadcast)
  for b in "${binaries[@]}"; do
    if [ ! -x "$build_dir/bin/$b" ]; then
      log "$build_dir/bin/$b is missing: run 'make build' first, or pass --from-source"
      exit 2
    fi
  done
  stage="$(mktemp -d /tmp/r1rl-image.XXXXXX)"
  trap 'rm -rf "$stage"' EXIT
  mkdir -p "$stage/bin" "$stage/assets" "$stage/data"
  for b in "${binaries[@]}"; do cp "$build_dir/bin/$b" "$stage/bin/"; done
  cp -r assets/demo-base "$stage/assets/"
  cp -r configs "$stage/"
  cp docker/runtime-deps.sh "$stage/"
  "$build_dir/bin/r1rl" cluster prompts --out "$stage/data/demo-prompts.jsonl" --seed 1 >/dev/null
  docker build -q -f docker/Dockerfile.prebuilt --build-arg DEBIAN_IMAGE="$base" \
    -t "r1rl:$tag" "$stage" >/dev/null
  log "r1rl:$tag from $build_dir/bin in $(( $(date +%s) - start )) s, $(size "r1rl:$tag")"
fi
