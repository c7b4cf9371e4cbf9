# The math grader (lib/rewards): untrusted model output.
pkg_check_modules(GINAC REQUIRED IMPORTED_TARGET ginac)
find_package(Threads REQUIRED)
r1rl_fuzzer(math_answer_fuzz
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/math_answer_fuzz.cc
          ${R1RL_ROOT}/lib/rewards/answer_extraction.cc
          ${R1RL_ROOT}/lib/rewards/latex_normalize.cc
          ${R1RL_ROOT}/lib/rewards/latex_to_cas.cc
          ${R1RL_ROOT}/lib/rewards/cas.cc
          ${R1RL_ROOT}/lib/rewards/math_equivalence.cc
          ${R1RL_ROOT}/lib/rewards/format_reward.cc
          ${R1RL_ROOT}/lib/rewards/language_reward.cc
  DEPS PkgConfig::GINAC ICU::uc absl::time Threads::Threads)
