# The math grader (services/reward_grader): untrusted model output.
pkg_check_modules(GINAC REQUIRED IMPORTED_TARGET ginac)
find_package(Threads REQUIRED)
r1rl_fuzzer(math_answer_fuzz
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/math_answer_fuzz.cc
          ${R1RL_ROOT}/services/reward_grader/answer_extraction.cc
          ${R1RL_ROOT}/services/reward_grader/latex_normalize.cc
          ${R1RL_ROOT}/services/reward_grader/latex_to_cas.cc
          ${R1RL_ROOT}/services/reward_grader/cas.cc
          ${R1RL_ROOT}/services/reward_grader/math_equivalence.cc
          ${R1RL_ROOT}/services/reward_grader/format_reward.cc
          ${R1RL_ROOT}/services/reward_grader/language_reward.cc
  DEPS PkgConfig::GINAC ICU::uc absl::time Threads::Threads)
