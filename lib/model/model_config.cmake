# ModelConfig: HF config.json for llama / qwen2 (no LibTorch). Included from
# lib/model/CMakeLists.txt.
r1rl_library(r1rl_model_config
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/model_config.cc
  DEPS r1rl_status nlohmann_json::nlohmann_json)
r1rl_test(model_config_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/model_config_test.cc
  DEPS r1rl_model_config)
