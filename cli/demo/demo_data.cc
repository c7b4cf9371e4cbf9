#include "cli/demo/demo_data.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "absl/strings/str_cat.h"
#include "cli/demo/arithmetic_task.h"

namespace r1rl::demo {
namespace {

using Json = nlohmann::ordered_json;

Json PromptRow(const std::string& id, const Problem& p) {
  Json row;
  row["id"] = id;
  row["prompt"] = ArithmeticTask::PromptText(p);
  row["reward"] = {{"kind", "math"}, {"answer", std::to_string(p.answer())}};
  return row;
}

std::string WithoutEos(std::string text) {
  const std::string eos = "<eos>";
  if (text.size() >= eos.size() && text.compare(text.size() - eos.size(), eos.size(), eos) == 0) {
    text.resize(text.size() - eos.size());
  }
  return text;
}

}  // namespace

absl::Status WritePrompts(const std::string& path, uint64_t seed, int count) {
  ArithmeticTask task(seed, 256, 128);
  std::mt19937_64 rng(seed * 7 + 11);
  std::ofstream out(path);
  for (int i = 0; i < count; ++i)
    out << PromptRow(absl::StrCat("add-", i), task.SampleTrain(rng)).dump() << "\n";
  return out ? absl::OkStatus() : absl::InternalError(absl::StrCat("cannot write ", path));
}

absl::Status WriteDemoData(const std::string& dir, const DemoDataOptions& o) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  if (auto s = WritePrompts(dir + "/prompts.jsonl", o.seed, o.prompts); !s.ok()) return s;
  ArithmeticTask task(o.seed, o.heldout, 128);
  {
    // The cold start (the embedded demo's stage 2, as rows): every row well formed, a
    // share of them with the written scratchpad.
    std::mt19937_64 rng(o.seed * 104729 + 2);
    std::ofstream out(dir + "/cold_start.jsonl");
    for (int i = 0; i < o.cold_start; ++i) {
      const Problem p = task.SampleTrain(rng);
      const bool think = std::uniform_real_distribution<double>(0.0, 1.0)(rng) < o.scratchpad_share;
      Json row;
      row["prompt"] = ArithmeticTask::PromptText(p);
      row["response"] = WithoutEos(ArithmeticTask::CompletionText(
          p, think ? TextKind::kScratchpad : TextKind::kDirectAnswer, rng));
      out << row.dump() << "\n";
    }
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", dir, "/cold_start.jsonl"));
  }
  std::ofstream out(dir + "/heldout.jsonl");
  for (size_t i = 0; i < task.test().size(); ++i)
    out << PromptRow(absl::StrCat("test-", i), task.test()[i]).dump() << "\n";
  return out ? absl::OkStatus()
             : absl::InternalError(absl::StrCat("cannot write ", dir, "/heldout.jsonl"));
}

}  // namespace r1rl::demo
