# Finds LibTorch: Debian's libtorch-dev (1.13, CPU) by default, or the LibTorch inside a
# pip-installed PyTorch 2.x (CUDA) with
#   cmake -DCMAKE_PREFIX_PATH=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
# Sets TORCH_LIBRARIES and R1RL_TORCH_HAS_CUDA. Protobuf must be found first: PyTorch 2.x's
# Caffe2Config.cmake defines protobuf::libprotobuf as an empty stand-in when no such target
# exists yet, and r1rl_proto would then link no protobuf.
find_package(Torch REQUIRED)

if(NOT TORCH_INSTALL_PREFIX MATCHES "^/usr/?$")
  # TorchConfig.cmake looks for libtorch and libc10 with find_library(... PATHS <prefix>/lib),
  # where the system folders come first: with Debian's libtorch-dev installed too (install-deps.sh
  # installs it), a PyTorch 2.x build would link Debian's 1.13 libc10 beside 2.x headers. Take
  # them from the LibTorch that was found.
  foreach(var IN ITEMS c10_LIBRARY TORCH_LIBRARY C10_CUDA_LIBRARY)
    if(NOT ${var} OR ${var} MATCHES "^${TORCH_INSTALL_PREFIX}/")
      continue()
    endif()
    get_filename_component(r1rl_lib "${${var}}" NAME)
    set(r1rl_own "${TORCH_INSTALL_PREFIX}/lib/${r1rl_lib}")
    if(NOT EXISTS "${r1rl_own}")
      message(FATAL_ERROR "LibTorch at ${TORCH_INSTALL_PREFIX} has no lib/${r1rl_lib} (found ${${var}} instead)")
    endif()
    list(FIND TORCH_LIBRARIES "${${var}}" r1rl_at)
    while(r1rl_at GREATER_EQUAL 0)
      list(REMOVE_AT TORCH_LIBRARIES ${r1rl_at})
      list(INSERT TORCH_LIBRARIES ${r1rl_at} "${r1rl_own}")
      list(FIND TORCH_LIBRARIES "${${var}}" r1rl_at)
    endwhile()
    set(${var} "${r1rl_own}" CACHE FILEPATH "" FORCE)
  endforeach()

  # PyTorch's include folder carries its own fmt (v12) and protobuf headers. Our code builds with
  # Debian's spdlog, compiled against Debian's fmt, and Debian's protobuf: a folder of links to
  # those, searched first (-I before -isystem), keeps the two from mixing. <torch/torch.h> itself
  # includes neither.
  set(r1rl_shadow "${CMAKE_BINARY_DIR}/r1rl-system-include")
  foreach(dir IN ITEMS fmt google)
    if(EXISTS "${TORCH_INSTALL_PREFIX}/include/${dir}" AND EXISTS "/usr/include/${dir}")
      file(MAKE_DIRECTORY "${r1rl_shadow}")
      file(CREATE_LINK "/usr/include/${dir}" "${r1rl_shadow}/${dir}" SYMBOLIC)
    endif()
  endforeach()
  if(EXISTS "${r1rl_shadow}")
    include_directories(BEFORE "${r1rl_shadow}")
  endif()

  # A pip-installed PyTorch finds its CUDA libraries (NCCL, cuDNN, cuBLAS...) in
  # site-packages/nvidia/*/lib through its RPATH; at link time the CUDA toolkit's folder would
  # come first (an older NCCL: undefined ncclCommGrow...). Point the linker at PyTorch's own.
  file(GLOB r1rl_nvidia_libdirs LIST_DIRECTORIES true "${TORCH_INSTALL_PREFIX}/../nvidia/*/lib")
  foreach(dir IN LISTS r1rl_nvidia_libdirs)
    add_link_options("LINKER:-rpath-link,${dir}")
  endforeach()
endif()

# Whether this LibTorch was built with CUDA (PyTorch 2.x on a GPU machine).
set(R1RL_TORCH_HAS_CUDA OFF)
if(TORCH_CUDA_LIBRARIES OR CAFFE2_USE_CUDA)
  set(R1RL_TORCH_HAS_CUDA ON)
endif()
message(STATUS "r1rl: LibTorch ${Torch_VERSION} at ${TORCH_INSTALL_PREFIX}, CUDA: ${R1RL_TORCH_HAS_CUDA}")

# c10d's Gloo backend: LibTorch carries Gloo's code, its ProcessGroupGloo.hpp needs Gloo's
# headers (Debian: libgloo-dev; PyTorch's wheel ships them in its include folder).
find_path(R1RL_GLOO_INCLUDE_DIR gloo/config.h HINTS ${TORCH_INCLUDE_DIRS})
if(R1RL_GLOO_INCLUDE_DIR)
  set(R1RL_HAVE_GLOO ON)
else()
  set(R1RL_HAVE_GLOO OFF)
  message(WARNING "r1rl: no Gloo headers (apt install libgloo-dev): the learner runs one rank on CPU")
endif()
message(STATUS "r1rl: c10d Gloo: ${R1RL_HAVE_GLOO} (${R1RL_GLOO_INCLUDE_DIR})")
