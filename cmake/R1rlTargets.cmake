# Helpers that keep each folder's CMakeLists.txt to a few lines.

# Warnings for our own code (not for generated or third-party code).
function(r1rl_warnings target)
  target_compile_options(${target} PRIVATE
                         $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter>)
endfunction()

# r1rl_library(NAME SOURCES a.cc b.cc DEPS lib1 lib2)
# A static library of our own code; DEPS are linked PUBLIC.
function(r1rl_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  r1rl_warnings(${name})
endfunction()

# r1rl_test(NAME SOURCES a_test.cc DEPS lib [LABELS l1 l2] [TIMEOUT s])
# A GoogleTest binary registered with ctest (one ctest entry per binary, so the
# summary counts binaries; gtest prints per-test results in the log).
function(r1rl_test name)
  if(NOT R1RL_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main GTest::gmock)
  r1rl_warnings(${name})
  add_test(NAME ${name} COMMAND ${name} --gtest_color=no
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 600)
  endif()
  set_tests_properties(${name} PROPERTIES TIMEOUT ${ARG_TIMEOUT}
                       ENVIRONMENT "R1RL_SOURCE_DIR=${PROJECT_SOURCE_DIR};OMP_NUM_THREADS=2")
  if(ARG_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}")
  endif()
endfunction()

# Precompiled LibTorch header for a target: the one header that costs most to parse. A test
# target that R1RL_BUILD_TESTS=OFF left out (the Docker image's build) is skipped.
function(r1rl_torch_pch target)
  if(TARGET ${target})
    target_precompile_headers(${target} PRIVATE <torch/torch.h>)
  endif()
endfunction()
