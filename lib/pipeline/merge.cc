#include "lib/pipeline/merge.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "absl/strings/str_cat.h"

namespace r1rl::pipeline {

absl::StatusOr<MergeStats> MergeSftSets(const std::vector<WeightedSet>& inputs, uint64_t seed,
                                        const std::string& out_path) {
  MergeStats stats;
  std::vector<std::string> rows;
  std::mt19937_64 rng(seed * 7919 + 17);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (const WeightedSet& in : inputs) {
    if (!(in.weight >= 0.0))
      return absl::InvalidArgumentError(
          absl::StrCat(in.path, ": weight ", in.weight, " must be >= 0"));
    std::ifstream file(in.path);
    if (!file) return absl::NotFoundError(absl::StrCat(in.path, ": cannot open it"));
    int64_t count = 0, taken = 0, line_no = 0;
    const double whole = std::floor(in.weight), fraction = in.weight - whole;
    std::string line;
    while (std::getline(file, line)) {
      ++line_no;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object()) {
        return absl::InvalidArgumentError(
            absl::StrCat(in.path, " line ", line_no, ": not a JSON object"));
      }
      for (const char* field : {"prompt", "response"}) {
        if (!j.contains(field) || !j[field].is_string()) {
          return absl::InvalidArgumentError(
              absl::StrCat(in.path, " line ", line_no, ": no string \"", field, "\""));
        }
      }
      ++count;
      int64_t copies = static_cast<int64_t>(whole) + (fraction > 0 && unit(rng) < fraction ? 1 : 0);
      for (int64_t c = 0; c < copies; ++c) rows.push_back(line);
      taken += copies;
    }
    stats.rows_in.push_back(count);
    stats.rows_taken.push_back(taken);
  }
  std::shuffle(rows.begin(), rows.end(), rng);
  std::ofstream out(out_path, std::ios::trunc);
  for (const std::string& r : rows) out << r << "\n";
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", out_path));
  stats.rows_out = static_cast<int64_t>(rows.size());
  return stats;
}

}  // namespace r1rl::pipeline
