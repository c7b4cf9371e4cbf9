# r1rl: the two commands a new user runs, and a few more.
#   make demo   install dependencies, build, run the demo
#   make test   install dependencies, build, run every test (ctest)
#   make bench  build and run the benchmarks (results: docs/benchmarks.md)
#   make deploy-test  build the images, run deploy/compose on this machine's Docker, check it
#
# On a GPU machine, build against the LibTorch inside PyTorch 2.x (CUDA):
#   make test BUILD_DIR=build-torch2 TORCH_PREFIX=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')

BUILD_DIR    ?= build
BUILD_TYPE   ?= Release
TORCH_PREFIX ?=
CTEST_JOBS   ?= 2
CMAKE_FLAGS  ?=

ifneq ($(TORCH_PREFIX),)
  CMAKE_FLAGS += -DCMAKE_PREFIX_PATH=$(TORCH_PREFIX)
endif

.PHONY: all deps configure build test demo bench deploy-test fuzz clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

configure: deps $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(CTEST_JOBS)

demo: build
	@bash scripts/demo.sh $(BUILD_DIR) $(ARGS)

bench: build
	@bash scripts/bench.sh $(BUILD_DIR)

# Needs root (installs docker.io and starts dockerd when none runs); docs/operations.md.
deploy-test: build
	@bash scripts/deploy-test.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR)
