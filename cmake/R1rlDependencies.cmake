# Finds every dependency of r1rl. All come from Debian's packages
# (scripts/install-deps.sh); on a GPU machine LibTorch may come from PyTorch:
#   cmake -DCMAKE_PREFIX_PATH=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
find_package(Threads REQUIRED)
# Protobuf before Torch: PyTorch 2.x's Caffe2Config.cmake defines protobuf::libprotobuf as an
# empty stand-in when no such target exists yet, and r1rl_proto would then link no protobuf.
find_package(Protobuf REQUIRED)
find_package(Torch REQUIRED)
# TorchConfig.cmake looks for libtorch and libc10 with find_library(... PATHS <prefix>/lib), where
# the system folders come first: with Debian's libtorch-dev installed too (install-deps.sh installs
# it), a build against PyTorch 2.x would link Debian's 1.13 libc10 beside 2.x headers. Take those
# libraries from the LibTorch that was found, and say which one it is.
if(NOT TORCH_INSTALL_PREFIX MATCHES "^/usr/?$")
  foreach(var IN ITEMS c10_LIBRARY TORCH_LIBRARY C10_CUDA_LIBRARY)
    if(${var} AND NOT ${var} MATCHES "^${TORCH_INSTALL_PREFIX}/")
      get_filename_component(name "${${var}}" NAME)
      set(fixed "${TORCH_INSTALL_PREFIX}/lib/${name}")
      if(NOT EXISTS "${fixed}")
        message(FATAL_ERROR "LibTorch at ${TORCH_INSTALL_PREFIX} has no lib/${name} (found ${${var}} instead)")
      endif()
      set(libs "")
      foreach(lib IN LISTS TORCH_LIBRARIES)
        if(lib STREQUAL "${${var}}")
          set(lib "${fixed}")
        endif()
        list(APPEND libs "${lib}")
      endforeach()
      set(TORCH_LIBRARIES "${libs}")
      set(${var} "${fixed}" CACHE FILEPATH "" FORCE)
    endif()
  endforeach()
  # A pip-installed PyTorch finds its CUDA libraries (NCCL, cuDNN, cuBLAS...) in
  # site-packages/nvidia/*/lib through its RPATH; at link time the CUDA toolkit's folder would come
  # first (an older NCCL: undefined ncclCommGrow...). Point the linker at PyTorch's own.
  # PyTorch's include folder carries its own fmt (v12) and protobuf headers. Our code builds with
  # Debian's spdlog, compiled against Debian's fmt, and Debian's protobuf: a folder of links to
  # those, searched first (-I before -isystem), keeps the two from mixing. <torch/torch.h> itself
  # includes neither.
  set(r1rl_shadow "${CMAKE_BINARY_DIR}/r1rl-system-include")
  foreach(dir IN ITEMS fmt google)
    if(EXISTS "${TORCH_INSTALL_PREFIX}/include/${dir}" AND EXISTS "/usr/include/${dir}")
      file(MAKE_DIRECTORY "${r1rl_shadow}")
      file(CREATE_LINK "/usr/include/${dir}" "${r1rl_shadow}/${dir}" SYMBOLIC)
      include_directories(BEFORE "${r1rl_shadow}")
    endif()
  endforeach()
  file(GLOB r1rl_torch_nvidia_libdirs LIST_DIRECTORIES true "${TORCH_INSTALL_PREFIX}/../nvidia/*/lib")
  foreach(dir IN LISTS r1rl_torch_nvidia_libdirs)
    add_link_options("LINKER:-rpath-link,${dir}")
  endforeach()
endif()
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

# Whether this LibTorch was built with CUDA (PyTorch 2.x on a GPU machine).
set(R1RL_TORCH_HAS_CUDA OFF)
if(TORCH_CUDA_LIBRARIES OR CAFFE2_USE_CUDA)
  set(R1RL_TORCH_HAS_CUDA ON)
endif()
message(STATUS "r1rl: LibTorch ${Torch_VERSION} at ${TORCH_INSTALL_PREFIX}, CUDA: ${R1RL_TORCH_HAS_CUDA}")

# Services: control plane, data plane, rollout store, metrics endpoint (Protobuf: above).
find_package(gRPC CONFIG REQUIRED)
pkg_check_modules(ZMQ REQUIRED IMPORTED_TARGET libzmq)
find_package(RocksDB CONFIG REQUIRED)
# Debian's civetweb CMake config names files the package does not ship: find it by hand.
find_path(CIVETWEB_INCLUDE_DIR civetweb.h REQUIRED)
find_library(CIVETWEB_LIBRARY civetweb REQUIRED)
add_library(r1rl::civetweb INTERFACE IMPORTED)
set_target_properties(r1rl::civetweb PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${CIVETWEB_INCLUDE_DIR}
                      INTERFACE_LINK_LIBRARIES ${CIVETWEB_LIBRARY})
