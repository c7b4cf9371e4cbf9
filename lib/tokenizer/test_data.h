// Test-only helpers: where the shared data lives and the real tokenizers, loaded once per
// test binary. Tests run with the repository root as working directory and
// R1RL_SOURCE_DIR set to it; the data sits beside the repository in ../shared/data.
#ifndef R1RL_LIB_TOKENIZER_TEST_DATA_H_
#define R1RL_LIB_TOKENIZER_TEST_DATA_H_

#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>

#include "gtest/gtest.h"
#include "lib/tokenizer/tokenizer.h"

namespace r1rl::tokenizer::testing {

// `relative` under the repository root.
inline std::string SourcePath(std::string_view relative) {
  const char* root = std::getenv("R1RL_SOURCE_DIR");
  return std::string(root != nullptr ? root : ".") + "/" + std::string(relative);
}

// `relative` under ../shared/data.
inline std::string SharedDataPath(std::string_view relative) {
  return SourcePath("../shared/data/" + std::string(relative));
}

// The real tokenizers ("qwen2.5", "smollm3", "gpt2") live in the shared data; the small
// ones the fixture script trains ("tiny_bytelevel", "tiny_char") in tests/fixtures/tokenizer.
inline std::string TokenizerJsonPath(std::string_view name) {
  if (name.substr(0, 5) == "tiny_") {
    return SourcePath("tests/fixtures/tokenizer/" + std::string(name) + ".tokenizer.json");
  }
  return SharedDataPath("tokenizers/" + std::string(name) + "/tokenizer.json");
}

inline std::string ReadFileOrDie(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  EXPECT_TRUE(file.good()) << "cannot open " << path;
  std::stringstream buffer;
  buffer << file.rdbuf();
  return buffer.str();
}

// The tokenizer at TokenizerJsonPath(name), loaded on first use and
// kept for the life of the binary (they take ~1 s each to load). Fails the test and returns
// null when it cannot be loaded.
inline const Tokenizer* RealTokenizer(const std::string& name) {
  static std::mutex mu;
  static auto* loaded = new std::map<std::string, std::unique_ptr<Tokenizer>>();
  std::lock_guard<std::mutex> lock(mu);
  auto it = loaded->find(name);
  if (it != loaded->end()) return it->second.get();
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizer(TokenizerJsonPath(name));
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  if (!tokenizer.ok()) return nullptr;
  return loaded->emplace(name, *std::move(tokenizer)).first->second.get();
}

}  // namespace r1rl::tokenizer::testing

#endif  // R1RL_LIB_TOKENIZER_TEST_DATA_H_
