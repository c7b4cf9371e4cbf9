# The safetensors header parser (lib/safetensors): untrusted checkpoint files.
r1rl_fuzzer(safetensors_header_fuzz
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/safetensors_header_fuzz.cc
          ${R1RL_ROOT}/lib/safetensors/safetensors.cc
  DEPS nlohmann_json::nlohmann_json)
