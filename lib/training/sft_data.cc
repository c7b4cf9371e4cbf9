#include "lib/training/sft_data.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace r1rl::learner {

absl::StatusOr<std::vector<SftExample>> ParseSftJsonl(const std::string& text,
                                                      const std::string& source,
                                                      const tokenizer::Tokenizer& tok,
                                                      tokenizer::PromptFormat format,
                                                      const std::string& system, int32_t eos_id) {
  std::vector<SftExample> out;
  std::istringstream in(text);
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto where = [&] { return absl::StrCat(source, " line ", number, ": "); };
    nlohmann::json row = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (row.is_discarded())
      return absl::InvalidArgumentError(absl::StrCat(where(), "not valid JSON"));
    if (!row.is_object())
      return absl::InvalidArgumentError(absl::StrCat(where(), "not a JSON object"));
    for (const char* field : {"prompt", "response"}) {
      if (!row.contains(field)) {
        return absl::InvalidArgumentError(absl::StrCat(where(), "missing field \"", field, "\""));
      }
      if (!row[field].is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where(), "field \"", field, "\" is not a string"));
      }
    }
    const std::string response = row["response"].get<std::string>();
    if (response.empty())
      return absl::InvalidArgumentError(absl::StrCat(where(), "empty \"response\""));
    SftExample ex;
    ex.prompt_ids =
        tok.Encode(tokenizer::RenderPrompt(format, row["prompt"].get<std::string>(), system));
    ex.response_ids = tok.Encode(response);
    if (eos_id >= 0) ex.response_ids.push_back(eos_id);
    if (ex.prompt_ids.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(where(), "the prompt encodes to no tokens"));
    }
    out.push_back(std::move(ex));
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat(source, ": no examples"));
  return out;
}

absl::StatusOr<std::vector<SftExample>> LoadSftJsonl(const std::string& path,
                                                     const tokenizer::Tokenizer& tok,
                                                     tokenizer::PromptFormat format,
                                                     const std::string& system, int32_t eos_id) {
  std::ifstream file(path);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot read SFT data ", path));
  std::stringstream buffer;
  buffer << file.rdbuf();
  return ParseSftJsonl(buffer.str(), path, tok, format, system, eos_id);
}

}  // namespace r1rl::learner
