#!/usr/bin/env bash
# The runtime half of an r1rl image, shared by docker/Dockerfile (built from source) and
# docker/Dockerfile.prebuilt (binaries built outside): the shared libraries behind
# scripts/install-deps.sh's -dev packages, as the binaries' NEEDED entries name them, and
# the unprivileged user (uid 10001) every service runs as.
#
# libopenblas0-pthread becomes libblas.so.3 for LibTorch's GEMMs (the reference BLAS is
# ~30x slower; `r1rl doctor` reports which one is in use). python3: code rewards run
# `python3 -I main.py` in the grader's sandbox (C++ code rewards would also need g++, left
# out for size).
set -euo pipefail
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  libtorch1.13 libopenblas0-pthread libjemalloc2 \
  libgrpc++1.51 libgrpc29 libprotobuf32 libssl3 \
  libzmq5 librocksdb7.8 libxxhash0 \
  libabsl20220623 libyaml-cpp0.7 libspdlog1.10 libfmt9 \
  libpcre2-8-0 libicu72 libginac11 libcln6 \
  python3
rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb

groupadd --system --gid 10001 r1rl
useradd --system --uid 10001 --gid r1rl --home-dir /var/lib/r1rl --no-create-home \
  --shell /usr/sbin/nologin r1rl
install -d -o r1rl -g r1rl /var/lib/r1rl /var/lib/r1rl/run /opt/r1rl/runs
