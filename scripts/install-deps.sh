#!/usr/bin/env bash
# Installs every system dependency of r1rl from Debian's packages.
# Skips what is already installed: with nothing missing it takes well under a second.
# Usage: scripts/install-deps.sh            (as root, or with sudo available)
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config ninja-build ccache git python3
  libtorch-dev libgloo-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libzmq3-dev cppzmq-dev libxxhash-dev
  librocksdb-dev
  libcivetweb-dev
  nlohmann-json3-dev libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev
  libpcre2-dev libicu-dev libginac-dev
  prometheus
  libabsl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libssl-dev
  libopenblas0-pthread
  libjemalloc-dev   # the allocator of the binaries that sample and train
  clang libclang-rt-14-dev clang-format
  python3-venv python3-yaml   # deploy_manifests_test: kubernetes-validate in a venv
)
# `kubectl kustomize` renders deploy/k8s in deploy_manifests_test; Debian's kubernetes-client
# only where no kubectl is installed already.
command -v kubectl >/dev/null || PACKAGES+=(kubernetes-client)

missing=()
for p in "${PACKAGES[@]}"; do
  # dpkg-query prints "install ok installed" for a package that is fully installed.
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${#missing[@]} Debian packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
