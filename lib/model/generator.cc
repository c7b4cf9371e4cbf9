#include "lib/model/generator.h"

#include <torch/torch.h>

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "kernels/sampling.h"
#include "lib/model/causal_lm.h"
#include "lib/status/status_macros.h"

namespace r1rl::model {
namespace {

// The state of one batch of sequences being decoded together.
struct Batch {
  std::vector<Completion*> rows;  // batch row -> its completion
  std::vector<uint64_t> streams;  // batch row -> RNG stream id
  std::vector<bool> done;
  torch::Tensor next_pos;  // (B) int64: position of the token fed next
  // Without a KV cache: every token so far and its validity, (B, T).
  torch::Tensor all_tokens, all_valid;
};

uint64_t StreamId(int64_t prompt_index, int64_t sample_index) {
  return (static_cast<uint64_t>(prompt_index) << 20) ^ static_cast<uint64_t>(sample_index);
}

// Text of `ids`, leaving out ids the tokenizer does not define (a model's embedding
// table may have more rows than the tokenizer has tokens).
std::string DecodeKnown(const tokenizer::Tokenizer& tok, const std::vector<int32_t>& ids,
                        size_t begin, size_t end) {
  std::vector<int32_t> known;
  for (size_t i = begin; i < end; ++i) {
    if (ids[i] >= 0 && ids[i] < tok.vocab_size()) known.push_back(ids[i]);
  }
  auto text = tok.Decode(known);
  return text.ok() ? *text : std::string();
}

}  // namespace

const char* FinishReasonName(FinishReason reason) {
  return reason == FinishReason::kStop ? "stop" : "length";
}

Generator::Generator(Policy* policy, const tokenizer::Tokenizer* tokenizer,
                     GenerationOptions options)
    : policy_(policy), tokenizer_(tokenizer), options_(std::move(options)) {}

absl::Status Generator::Validate(const std::vector<std::vector<int32_t>>& prompts) const {
  const ModelConfig& config = policy_->config();
  const GenerationOptions& o = options_;
  if (o.max_new_tokens < 1)
    return absl::InvalidArgumentError(
        absl::StrCat("generation.max_new_tokens: must be >= 1, got ", o.max_new_tokens));
  if (!o.greedy && !(o.temperature > 0))
    return absl::InvalidArgumentError(
        absl::StrCat("generation.temperature: must be > 0, got ", o.temperature));
  if (!(o.top_p > 0 && o.top_p <= 1))
    return absl::InvalidArgumentError(
        absl::StrCat("generation.top_p: must be in (0, 1], got ", o.top_p));
  if (o.top_k < 0)
    return absl::InvalidArgumentError(
        absl::StrCat("generation.top_k: must be >= 0, got ", o.top_k));
  if (o.max_batch < 1)
    return absl::InvalidArgumentError(
        absl::StrCat("generation.max_batch: must be >= 1, got ", o.max_batch));
  if (!o.stop_strings.empty() && tokenizer_ == nullptr) {
    return absl::InvalidArgumentError("generation.stop_strings: set, but no tokenizer was given");
  }
  for (size_t p = 0; p < prompts.size(); ++p) {
    if (prompts[p].empty())
      return absl::InvalidArgumentError(absl::StrCat("prompt ", p, ": empty"));
    for (int32_t id : prompts[p]) {
      if (id < 0 || id >= config.vocab_size) {
        return absl::InvalidArgumentError(absl::StrCat("prompt ", p, ": token id ", id,
                                                       " is outside the vocabulary [0, ",
                                                       config.vocab_size, ")"));
      }
    }
    const int64_t total = static_cast<int64_t>(prompts[p].size()) + o.max_new_tokens;
    if (total > config.max_position_embeddings) {
      return absl::InvalidArgumentError(absl::StrCat(
          "prompt ", p, ": ", prompts[p].size(), " tokens + max_new_tokens ", o.max_new_tokens,
          " exceed max_position_embeddings ", config.max_position_embeddings));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Completion>> Generator::Generate(
    const std::vector<std::vector<int32_t>>& prompts, int64_t num_samples) {
  std::vector<uint64_t> keys(prompts.size());
  for (size_t i = 0; i < keys.size(); ++i) keys[i] = i;
  return Generate(prompts, num_samples, keys);
}

absl::StatusOr<std::vector<Completion>> Generator::Generate(
    const std::vector<std::vector<int32_t>>& prompts, int64_t num_samples,
    const std::vector<uint64_t>& prompt_keys) {
  RETURN_IF_ERROR(Validate(prompts));
  if (prompt_keys.size() != prompts.size()) {
    return absl::InvalidArgumentError(absl::StrCat("prompt_keys: ", prompt_keys.size(),
                                                   " keys for ", prompts.size(), " prompts"));
  }
  if (num_samples < 1)
    return absl::InvalidArgumentError(absl::StrCat("num_samples: must be >= 1, got ", num_samples));
  c10::InferenceMode inference;
  CausalLMImpl& lm = policy_->lm();
  const auto device = lm.OutputEmbedding().device();
  const GenerationOptions& o = options_;

  std::set<int32_t> stop_ids(o.stop_token_ids.begin(), o.stop_token_ids.end());
  if (!o.ignore_eos) {
    for (int64_t id : policy_->config().eos_token_ids) stop_ids.insert(static_cast<int32_t>(id));
  }
  size_t max_stop_bytes = 0;
  for (const auto& s : o.stop_strings) max_stop_bytes = std::max(max_stop_bytes, s.size());

  kernels::SamplingParams params;
  params.temperature = o.temperature;
  params.top_k = o.top_k;
  params.top_p = o.top_p;
  params.greedy = o.greedy;
  params.seed = o.seed;

  std::vector<Completion> results(prompts.size() * num_samples);
  for (size_t i = 0; i < results.size(); ++i) {
    results[i].prompt_index = i / num_samples;
    results[i].sample_index = i % num_samples;
  }
  last_generated_tokens_ = 0;

  for (size_t first = 0; first < results.size(); first += o.max_batch) {
    const size_t count = std::min<size_t>(o.max_batch, results.size() - first);
    Batch batch;
    int64_t prompt_cap = 0;
    for (size_t i = 0; i < count; ++i) {
      Completion* c = &results[first + i];
      batch.rows.push_back(c);
      batch.streams.push_back(
          StreamId(static_cast<int64_t>(prompt_keys[c->prompt_index]), c->sample_index));
      batch.done.push_back(false);
      prompt_cap = std::max<int64_t>(prompt_cap, prompts[c->prompt_index].size());
    }
    const int64_t b = count;
    // Left-padded prompts: (B, P).
    std::vector<int64_t> tok_data(b * prompt_cap, 0);
    std::vector<uint8_t> valid_data(b * prompt_cap, 0);
    std::vector<int64_t> lens(b);
    for (int64_t r = 0; r < b; ++r) {
      const auto& p = prompts[batch.rows[r]->prompt_index];
      lens[r] = p.size();
      const int64_t pad = prompt_cap - lens[r];
      for (int64_t j = 0; j < lens[r]; ++j) {
        tok_data[r * prompt_cap + pad + j] = p[j];
        valid_data[r * prompt_cap + pad + j] = 1;
      }
    }
    torch::Tensor tokens = torch::tensor(tok_data, torch::kInt64).view({b, prompt_cap}).to(device);
    torch::Tensor valid =
        torch::tensor(valid_data, torch::kUInt8).view({b, prompt_cap}).to(torch::kBool).to(device);
    batch.next_pos = torch::tensor(lens, torch::kInt64).to(device);

    KVCache cache;
    torch::Tensor last;  // (B, hidden) hidden state of each row's last token
    if (o.use_kv_cache) {
      cache = lm.NewCache(b, prompt_cap + o.max_new_tokens);
      cache.key_valid.narrow(1, 0, prompt_cap).copy_(valid);
      torch::Tensor hidden = lm.ForwardHidden(tokens, PositionsFromMask(valid),
                                              BuildAttentionMask(valid, 0, prompt_cap), &cache);
      last = hidden.select(1, prompt_cap - 1);
    } else {
      batch.all_tokens = tokens;
      batch.all_valid = valid;
      last = lm.forward(tokens, valid).select(1, prompt_cap - 1);
    }

    for (int64_t step = 0; step < o.max_new_tokens; ++step) {
      kernels::SampledTokens sampled =
          kernels::SampleTokens(lm.Logits(last), params, batch.streams, step);
      torch::Tensor tok_cpu = sampled.tokens.to(torch::kCPU).contiguous();
      torch::Tensor lp_cpu = sampled.logprobs.to(torch::kCPU).contiguous();
      const int64_t* tok_data = tok_cpu.data_ptr<int64_t>();
      const float* lp_data = lp_cpu.data_ptr<float>();
      const int64_t cur = batch.rows.size();
      int64_t n_done = 0;
      for (int64_t r = 0; r < cur; ++r) {
        if (batch.done[r]) {
          ++n_done;
          continue;
        }
        Completion* c = batch.rows[r];
        const int32_t id = static_cast<int32_t>(tok_data[r]);
        c->token_ids.push_back(id);
        c->logprobs.push_back(lp_data[r]);
        ++last_generated_tokens_;
        bool stop = stop_ids.count(id) > 0;
        if (!stop && max_stop_bytes > 0) {
          const size_t n = c->token_ids.size();
          const size_t from = n > max_stop_bytes + 1 ? n - max_stop_bytes - 1 : 0;
          std::string tail = DecodeKnown(*tokenizer_, c->token_ids, from, n);
          for (const auto& s : o.stop_strings) stop = stop || tail.find(s) != std::string::npos;
        }
        if (stop || step + 1 == o.max_new_tokens) {
          c->finish_reason = stop ? FinishReason::kStop : FinishReason::kLength;
          batch.done[r] = true;
          ++n_done;
        }
      }
      if (n_done == cur) break;

      torch::Tensor feed = sampled.tokens.unsqueeze(1);  // (B, 1)
      // Drop finished rows once a quarter of the batch is done.
      if (n_done > 0 && n_done * 4 >= cur) {
        std::vector<int64_t> keep;
        for (int64_t r = 0; r < cur; ++r) {
          if (!batch.done[r]) keep.push_back(r);
        }
        torch::Tensor idx = torch::tensor(keep, torch::kInt64).to(device);
        std::vector<Completion*> rows;
        std::vector<uint64_t> streams;
        for (int64_t r : keep) {
          rows.push_back(batch.rows[r]);
          streams.push_back(batch.streams[r]);
        }
        batch.rows = std::move(rows);
        batch.streams = std::move(streams);
        batch.done.assign(keep.size(), false);
        batch.next_pos = batch.next_pos.index_select(0, idx);
        feed = feed.index_select(0, idx);
        if (o.use_kv_cache) {
          cache.SelectRows(idx);
        } else {
          batch.all_tokens = batch.all_tokens.index_select(0, idx);
          batch.all_valid = batch.all_valid.index_select(0, idx);
        }
      }

      torch::Tensor pos = batch.next_pos.unsqueeze(1);  // (B, 1)
      if (o.use_kv_cache) {
        const int64_t at = cache.length;
        cache.key_valid.select(1, at).fill_(true);
        torch::Tensor mask = BuildAttentionMask(cache.key_valid.narrow(1, 0, at + 1), at, 1);
        last = lm.ForwardHidden(feed, pos, mask, &cache).select(1, 0);
      } else {
        batch.all_tokens = torch::cat({batch.all_tokens, feed}, 1);
        batch.all_valid = torch::cat({batch.all_valid, torch::ones_like(feed).to(torch::kBool)}, 1);
        last = lm.forward(batch.all_tokens, batch.all_valid).select(1, -1);
      }
      batch.next_pos.add_(1);
    }
  }

  if (tokenizer_ != nullptr) {
    for (Completion& c : results) {
      size_t end = c.token_ids.size();
      if (c.finish_reason == FinishReason::kStop && end > 0 && stop_ids.count(c.token_ids.back()))
        --end;
      c.text = DecodeKnown(*tokenizer_, c.token_ids, 0, end);
      size_t cut = std::string::npos;
      for (const auto& s : o.stop_strings) {
        size_t at = c.text.find(s);
        if (at != std::string::npos) cut = std::min(cut, at + s.size());
      }
      if (cut != std::string::npos) c.text.resize(cut);
    }
  }
  return results;
}

}  // namespace r1rl::model
