// SftTrainer: supervised fine-tuning on (prompt, response) pairs -- the cold start of R1 and
// the SFT on rejection-sampled data. Next-token loss on the response's tokens only (the
// prompt is masked), token-mean over the batch; same optimizer and schedule as GRPO.
//
//   SftTrainer sft(&policy, optimizer_options, /*pad_id=*/0);
//   ASSIGN_OR_RETURN(Metrics m, sft.Step(batch));   // loss, tokens, grad_norm, lr
//
// Thread-safety: one Step at a time.
#ifndef R1RL_LIB_TRAINING_SFT_TRAINER_H_
#define R1RL_LIB_TRAINING_SFT_TRAINER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/model/policy.h"
#include "lib/training/optimizer.h"
#include "lib/training/rollout.h"

namespace r1rl::learner {

struct SftExample {
  std::vector<int32_t> prompt_ids;    // at least one token (e.g. BOS)
  std::vector<int32_t> response_ids;  // trained, usually ending in EOS
};

class SftTrainer {
 public:
  SftTrainer(model::Policy* policy, const OptimizerOptions& options, int32_t pad_id);

  // One optimizer step over `batch`, processed `micro_batch_size` rows at a time (0: all).
  absl::StatusOr<Metrics> Step(const std::vector<SftExample>& batch, int64_t micro_batch_size = 0);
  // Mean next-token loss on the response tokens, no update.
  absl::StatusOr<double> Evaluate(const std::vector<SftExample>& batch);

  Optimizer& optimizer() { return optimizer_; }

 private:
  model::Policy* policy_;
  Optimizer optimizer_;
  int32_t pad_id_;
};

}  // namespace r1rl::learner

#endif  // R1RL_LIB_TRAINING_SFT_TRAINER_H_
