#include "lib/training/sft_trainer.h"

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "lib/model/causal_lm.h"
#include "lib/training/packed_batch.h"

namespace r1rl::learner {
namespace {

absl::Status CheckBatch(const std::vector<SftExample>& batch) {
  if (batch.empty()) return absl::InvalidArgumentError("SFT step: empty batch");
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].prompt_ids.empty() || batch[i].response_ids.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("SFT example ", i, ": prompt and response need at least one token"));
    }
  }
  return absl::OkStatus();
}

std::vector<SequenceRef> Refs(const std::vector<SftExample>& batch, size_t begin, size_t end) {
  std::vector<SequenceRef> refs;
  for (size_t i = begin; i < end; ++i)
    refs.push_back({&batch[i].prompt_ids, &batch[i].response_ids, nullptr});
  return refs;
}

}  // namespace

SftTrainer::SftTrainer(model::Policy* policy, const OptimizerOptions& options, int32_t pad_id)
    : policy_(policy), optimizer_(policy->lm(), options), pad_id_(pad_id) {}

absl::StatusOr<Metrics> SftTrainer::Step(const std::vector<SftExample>& batch,
                                         int64_t micro_batch_size) {
  if (auto s = CheckBatch(batch); !s.ok()) return s;
  model::CausalLMImpl& lm = policy_->lm();
  const torch::Device device = lm.OutputEmbedding().device();
  const size_t micro = micro_batch_size > 0 ? micro_batch_size : batch.size();
  double total_tokens = 0;
  for (const SftExample& e : batch) total_tokens += e.response_ids.size();
  optimizer_.ZeroGrad();
  double loss_sum = 0;
  for (size_t s = 0; s < batch.size(); s += micro) {
    PackedBatch packed = Pack(Refs(batch, s, std::min(batch.size(), s + micro)), pad_id_, device);
    auto scored = ScoreTokens(lm, packed, 1.0, false);
    torch::Tensor nll = -(scored.logprobs * packed.loss_mask).sum() / total_tokens;
    nll.backward();
    loss_sum += nll.item<double>();
  }
  Metrics m;
  m["lr"] = optimizer_.current_lr();
  m["grad_norm"] = optimizer_.Step();
  m["loss"] = loss_sum;
  m["tokens"] = total_tokens;
  return m;
}

absl::StatusOr<double> SftTrainer::Evaluate(const std::vector<SftExample>& batch) {
  if (auto s = CheckBatch(batch); !s.ok()) return s;
  torch::NoGradGuard no_grad;
  model::CausalLMImpl& lm = policy_->lm();
  PackedBatch packed = Pack(Refs(batch, 0, batch.size()), pad_id_, lm.OutputEmbedding().device());
  auto scored = ScoreTokens(lm, packed, 1.0, false);
  return (-(scored.logprobs * packed.loss_mask).sum() / packed.loss_mask.sum()).item<double>();
}

}  // namespace r1rl::learner
