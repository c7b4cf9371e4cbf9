# Finds every dependency of r1rl. All come from Debian's packages
# (scripts/install-deps.sh); on a GPU machine LibTorch may come from PyTorch (R1rlTorch.cmake).
find_package(Threads REQUIRED)
find_package(Protobuf REQUIRED)  # before LibTorch: see R1rlTorch.cmake
include(R1rlTorch)
find_package(absl REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(CLI11 QUIET)
find_package(spdlog REQUIRED)
find_package(fmt REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(GINAC REQUIRED IMPORTED_TARGET ginac)
find_package(ICU REQUIRED COMPONENTS uc i18n data)

if(R1RL_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(R1RL_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()

# Services: control plane, data plane, rollout store, metrics endpoint (Protobuf: above).
find_package(gRPC CONFIG REQUIRED)
find_package(OpenSSL REQUIRED)
pkg_check_modules(ZMQ REQUIRED IMPORTED_TARGET libzmq)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
find_package(RocksDB CONFIG REQUIRED)
# Debian's civetweb CMake config names files the package does not ship: find it by hand.
find_path(CIVETWEB_INCLUDE_DIR civetweb.h REQUIRED)
find_library(CIVETWEB_LIBRARY civetweb REQUIRED)
add_library(r1rl::civetweb INTERFACE IMPORTED)
set_target_properties(r1rl::civetweb PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${CIVETWEB_INCLUDE_DIR}
                      INTERFACE_LINK_LIBRARIES ${CIVETWEB_LIBRARY})

# jemalloc, the allocator of the binaries that sample and train (r1rl::malloc): glibc's malloc
# gives every block over 32 MB back to the OS when it is freed, so the learner's
# (tokens x vocabulary) chunks were mapped and page-faulted afresh op after op (issue 24:
# docs/benchmarks.md, "A GRPO step"). jemalloc keeps freed pages for reuse
# (lib/runtime/malloc_conf.cc: for the process's life). Optional: -DR1RL_JEMALLOC=OFF, or no
# libjemalloc-dev, is glibc.
option(R1RL_JEMALLOC "Link jemalloc into the binaries that sample and train" ON)
find_library(JEMALLOC_LIBRARY jemalloc)
add_library(r1rl::malloc INTERFACE IMPORTED)
if(R1RL_JEMALLOC AND JEMALLOC_LIBRARY)
  set_target_properties(r1rl::malloc PROPERTIES INTERFACE_LINK_LIBRARIES ${JEMALLOC_LIBRARY}
                        INTERFACE_SOURCES ${PROJECT_SOURCE_DIR}/lib/runtime/malloc_conf.cc)
  message(STATUS "r1rl: allocator jemalloc (${JEMALLOC_LIBRARY})")
else()
  message(STATUS "r1rl: allocator glibc malloc")
endif()
