#include "lib/training/packed_batch.h"

#include <algorithm>

namespace r1rl::learner {

PackedBatch Pack(const std::vector<SequenceRef>& sequences, int32_t pad_id,
                 const torch::Device& device) {
  const int64_t b = static_cast<int64_t>(sequences.size());
  int64_t len = 2;
  bool any_behaviour = false;
  for (const SequenceRef& s : sequences) {
    len = std::max<int64_t>(len, s.prompt->size() + s.completion->size());
    any_behaviour |= s.behaviour != nullptr;
  }
  torch::Tensor tokens = torch::full({b, len}, pad_id, torch::kInt64);
  torch::Tensor attention = torch::zeros({b, len}, torch::kInt64);
  torch::Tensor loss_mask = torch::zeros({b, len - 1}, torch::kFloat32);
  torch::Tensor behaviour =
      any_behaviour ? torch::zeros({b, len - 1}, torch::kFloat32) : torch::Tensor();
  auto tok = tokens.accessor<int64_t, 2>();
  auto att = attention.accessor<int64_t, 2>();
  auto lm = loss_mask.accessor<float, 2>();
  for (int64_t i = 0; i < b; ++i) {
    const SequenceRef& s = sequences[i];
    const int64_t p = static_cast<int64_t>(s.prompt->size());
    const int64_t c = static_cast<int64_t>(s.completion->size());
    for (int64_t j = 0; j < p; ++j) tok[i][j] = (*s.prompt)[j];
    for (int64_t j = 0; j < c; ++j) tok[i][p + j] = (*s.completion)[j];
    for (int64_t j = 0; j < p + c; ++j) att[i][j] = 1;
    for (int64_t j = 0; j < c; ++j) lm[i][p + j - 1] = 1.0f;
    if (s.behaviour != nullptr) {
      auto beh = behaviour.accessor<float, 2>();
      for (int64_t j = 0; j < c && j < static_cast<int64_t>(s.behaviour->size()); ++j) {
        beh[i][p + j - 1] = (*s.behaviour)[j];
      }
    }
  }
  PackedBatch out;
  out.tokens = tokens.to(device);
  out.attention_mask = attention.to(device);
  out.loss_mask = loss_mask.to(device);
  if (behaviour.defined()) out.behaviour = behaviour.to(device);
  return out;
}

kernels::TokenLogprobsResult ScoreTokens(model::CausalLMImpl& lm, const PackedBatch& batch,
                                         double temperature, bool with_entropy) {
  const int64_t b = batch.tokens.size(0), len = batch.tokens.size(1);
  torch::Tensor hidden = lm.forward(batch.tokens, batch.attention_mask).narrow(1, 0, len - 1);
  torch::Tensor targets = batch.tokens.narrow(1, 1, len - 1);
  // Logits only where a log-prob is trained: the prompt's and the padding's positions would
  // cost the output projection (hidden x vocabulary FLOPs each) for nothing.
  torch::Tensor where = batch.loss_mask.reshape({-1}).nonzero().squeeze(1);
  torch::Tensor h = hidden.reshape({b * (len - 1), hidden.size(-1)}).index_select(0, where);
  torch::Tensor t = targets.reshape({-1}).index_select(0, where);
  kernels::TokenLogprobsOptions options;
  options.temperature = temperature;
  options.with_entropy = with_entropy;
  kernels::TokenLogprobsResult picked = kernels::TokenLogprobs(h, lm.OutputEmbedding(), t, options);
  auto spread = [&](const torch::Tensor& v) {
    return torch::zeros({b * (len - 1)}, v.options()).index_copy(0, where, v).view({b, len - 1});
  };
  kernels::TokenLogprobsResult out;
  out.logprobs = spread(picked.logprobs);
  if (with_entropy) out.entropy = spread(picked.entropy);
  return out;
}

}  // namespace r1rl::learner
