# ParseTokenizerJson over untrusted tokenizer.json bytes (lib/tokenizer).
r1rl_fuzzer(tokenizer_json_fuzz
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tokenizer_json_fuzz.cc
          ${R1RL_ROOT}/lib/tokenizer/added_vocabulary.cc
          ${R1RL_ROOT}/lib/tokenizer/bpe_model.cc
          ${R1RL_ROOT}/lib/tokenizer/bpe_tokenizer.cc
          ${R1RL_ROOT}/lib/tokenizer/byte_level.cc
          ${R1RL_ROOT}/lib/tokenizer/decoder.cc
          ${R1RL_ROOT}/lib/tokenizer/normalizer.cc
          ${R1RL_ROOT}/lib/tokenizer/post_processor.cc
          ${R1RL_ROOT}/lib/tokenizer/pre_tokenizer.cc
          ${R1RL_ROOT}/lib/tokenizer/regex.cc
          ${R1RL_ROOT}/lib/tokenizer/tokenizer_json.cc
          ${R1RL_ROOT}/lib/tokenizer/utf8.cc
  DEPS nlohmann_json::nlohmann_json PkgConfig::PCRE2 ICU::uc ICU::i18n ICU::data
       absl::flat_hash_map absl::flat_hash_set absl::synchronization absl::str_format)
