// The pipeline's `merge` stage: SFT sets concatenated with weights and shuffled — R1's mix
// of rejection-sampled reasoning data with other SFT data. Torch-free.
//
//   ASSIGN_OR_RETURN(MergeStats s, MergeSftSets({{"a.jsonl", 1.0}, {"b.jsonl", 0.5}}, seed,
//   "out.jsonl"));
//
// A weight w takes each row floor(w) times, plus once more with probability w - floor(w)
// (a draw seeded by `seed`): 0.5 keeps about half, 2 doubles a set. Rows must be JSON
// objects with string "prompt" and "response" (InvalidArgument naming the file and line);
// they are written unchanged, in an order shuffled by `seed`.
#ifndef R1RL_LIB_PIPELINE_MERGE_H_
#define R1RL_LIB_PIPELINE_MERGE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace r1rl::pipeline {

struct WeightedSet {
  std::string path;
  double weight = 1.0;
};

struct MergeStats {
  std::vector<int64_t> rows_in;     // per input
  std::vector<int64_t> rows_taken;  // per input, after weighting
  int64_t rows_out = 0;
};

absl::StatusOr<MergeStats> MergeSftSets(const std::vector<WeightedSet>& inputs, uint64_t seed,
                                        const std::string& out_path);

}  // namespace r1rl::pipeline

#endif  // R1RL_LIB_PIPELINE_MERGE_H_
