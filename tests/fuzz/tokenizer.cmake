# ParseTokenizerJson over untrusted tokenizer.json bytes (services/tokenizer).
r1rl_fuzzer(tokenizer_json_fuzz
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tokenizer_json_fuzz.cc
          ${R1RL_ROOT}/services/tokenizer/added_vocabulary.cc
          ${R1RL_ROOT}/services/tokenizer/bpe_model.cc
          ${R1RL_ROOT}/services/tokenizer/bpe_tokenizer.cc
          ${R1RL_ROOT}/services/tokenizer/byte_level.cc
          ${R1RL_ROOT}/services/tokenizer/decoder.cc
          ${R1RL_ROOT}/services/tokenizer/normalizer.cc
          ${R1RL_ROOT}/services/tokenizer/post_processor.cc
          ${R1RL_ROOT}/services/tokenizer/pre_tokenizer.cc
          ${R1RL_ROOT}/services/tokenizer/regex.cc
          ${R1RL_ROOT}/services/tokenizer/tokenizer_json.cc
          ${R1RL_ROOT}/services/tokenizer/utf8.cc
  DEPS nlohmann_json::nlohmann_json PkgConfig::PCRE2 ICU::uc ICU::i18n ICU::data
       absl::flat_hash_map absl::flat_hash_set absl::synchronization absl::str_format)
