// `r1rl tokenize --tokenizer PATH/tokenizer.json [--decode]`
// Encode: one UTF-8 line in, one JSON array of ids out. Decode: one JSON array in, text out.
// A bad line prints an error naming the line to stderr, an empty output line keeps the
// lines aligned, and the exit code is 1 at the end.
#include <iostream>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "cli/command.h"
#include "lib/tokenizer/tokenizer.h"

namespace r1rl::cli {
namespace {

struct TokenizeFlags {
  std::string tokenizer;
  bool decode = false;
  bool no_special = false;
};

absl::Status DecodeLine(const tokenizer::Tokenizer& tok, const std::string& line,
                        std::string* out) {
  nlohmann::json ids = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!ids.is_array()) return absl::InvalidArgumentError("expected a JSON array of token ids");
  std::vector<int32_t> values;
  for (const auto& id : ids) {
    if (!id.is_number_integer()) {
      return absl::InvalidArgumentError(absl::StrCat("not an integer token id: ", id.dump()));
    }
    values.push_back(id.get<int32_t>());
  }
  auto text = tok.Decode(values);
  if (!text.ok()) return text.status();
  *out = *text;
  return absl::OkStatus();
}

int RunTokenize(const TokenizeFlags& flags) {
  auto tok = tokenizer::LoadTokenizer(flags.tokenizer);
  if (!tok.ok()) return Fail("tokenize", tok.status());
  int exit_code = 0;
  std::string line;
  for (int64_t n = 1; std::getline(std::cin, line); ++n) {
    if (!flags.decode) {
      std::vector<int32_t> ids =
          flags.no_special ? (*tok)->EncodeNoSpecial(line) : (*tok)->Encode(line);
      std::cout << nlohmann::json(ids).dump() << "\n";
      continue;
    }
    std::string text;
    absl::Status status = DecodeLine(**tok, line, &text);
    if (!status.ok()) {
      std::cerr << "r1rl tokenize: stdin line " << n << ": " << status.message() << "\n";
      exit_code = 1;
    }
    std::cout << text << "\n";
  }
  return exit_code;
}

}  // namespace

void RegisterTokenize(CLI::App& root, CommandResult* result) {
  auto flags = std::make_shared<TokenizeFlags>();
  auto* cmd = root.add_subcommand(
      "tokenize", "Encode stdin lines to JSON arrays of token ids (or --decode them back)");
  cmd->add_option("--tokenizer", flags->tokenizer, "Path of a Hugging Face tokenizer.json")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_flag("--decode", flags->decode, "Read JSON arrays of ids, print their text");
  cmd->add_flag("--no-special", flags->no_special,
                "Do not add the post-processor's tokens (add_special_tokens=False)");
  cmd->callback([=] { result->exit_code = RunTokenize(*flags); });
}

}  // namespace r1rl::cli
