// The RL prompt set: JSONL rows {"prompt": "...", "reward": {...}, "id": "..."} ("id"
// optional: the line number names the row), read whole, handed out in order, epoch after
// epoch, from a cursor the controller persists.
//
// Errors (InvalidArgument) name the file and line: not JSON, not an object, a missing or
// non-string "prompt", a missing or bad "reward" (checked with the reward grader's rules,
// reward_spec.h), so a bad dataset fails at start, not mid-run.
#ifndef R1RL_LIB_DATA_PROMPT_DATASET_H_
#define R1RL_LIB_DATA_PROMPT_DATASET_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace r1rl::learner {

// A dataset row as the controller leases it and the pipeline reads it.
struct PromptRow {
  std::string prompt_id;
  std::string prompt;       // the text the worker renders with its template
  std::string reward_json;  // the row's "reward" object
  int64_t position = 0;     // draws from the dataset before this one (epochs included)
};

struct DatasetCursor {
  int64_t epoch = 0;
  int64_t index = 0;  // next row
};

class PromptDataset {
 public:
  static absl::StatusOr<PromptDataset> Parse(const std::string& text, const std::string& source);
  static absl::StatusOr<PromptDataset> Load(const std::string& path);

  // The next row; nullopt once `epochs` epochs are done (epochs <= 0: forever).
  std::optional<PromptRow> Next();
  void set_epochs(int64_t epochs) { epochs_ = epochs; }
  DatasetCursor cursor() const { return cursor_; }
  void Seek(DatasetCursor c) { cursor_ = c; }
  // To the row with this absolute position (epoch * size + index), as PromptRow::position.
  void SeekPosition(int64_t position) {
    const int64_t n = std::max<int64_t>(1, static_cast<int64_t>(rows_.size()));
    cursor_ = {position / n, position % n};
  }
  size_t size() const { return rows_.size(); }

 private:
  std::vector<PromptRow> rows_;
  DatasetCursor cursor_;
  int64_t epochs_ = 1;
};

}  // namespace r1rl::learner

#endif  // R1RL_LIB_DATA_PROMPT_DATASET_H_
