// Test helper: a fresh directory under the test temp dir, removed with everything in it.
#ifndef R1RL_LIB_SAFETENSORS_SCOPED_TEMP_DIR_H_
#define R1RL_LIB_SAFETENSORS_SCOPED_TEMP_DIR_H_

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "gtest/gtest.h"

namespace r1rl::safetensors {

class ScopedTempDir {
 public:
  ScopedTempDir() {
    std::string templ = testing::TempDir() + "r1rl_test_XXXXXX";
    if (mkdtemp(templ.data()) != nullptr) path_ = templ;
  }
  ~ScopedTempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace r1rl::safetensors

#endif  // R1RL_LIB_SAFETENSORS_SCOPED_TEMP_DIR_H_
