#include "lib/pipeline/model_hash.h"

#include <algorithm>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/transport/sha256.h"

namespace r1rl::pipeline {

std::string ModelHash(const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const bool weights = e.path().extension() == ".safetensors" && name != "optimizer.safetensors";
    if (weights || name == "config.json" || name == "tokenizer.json") files.push_back(name);
  }
  std::sort(files.begin(), files.end());
  std::string all;
  for (const std::string& f : files)
    all += absl::StrCat(f, " ", transport::Sha256File(dir + "/" + f), "\n");
  return transport::Sha256Hex(all);
}

}  // namespace r1rl::pipeline
