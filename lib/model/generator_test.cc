#include "lib/model/generator.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "gtest/gtest.h"
#include "lib/model/policy.h"
#include "lib/model/test_paths.h"

namespace r1rl::model {
namespace {

std::unique_ptr<Policy> LoadTiny(const std::string& name) {
  auto policy = Policy::Load(FixtureDir() + "/" + name, {});
  EXPECT_TRUE(policy.ok()) << policy.status();
  return policy.ok() ? std::move(*policy) : nullptr;
}

class GreedyMatchesTransformers : public ::testing::TestWithParam<std::string> {};

TEST_P(GreedyMatchesTransformers, ContinuationsAreIdenticalAloneAndBatched) {
  auto policy = LoadTiny(GetParam());
  ASSERT_NE(policy, nullptr);
  std::ifstream in(FixtureDir() + "/" + GetParam() + "_greedy.json");
  nlohmann::json cases = nlohmann::json::parse(in)["cases"];
  std::vector<std::vector<int32_t>> prompts;
  std::vector<std::vector<int32_t>> expected;
  for (const auto& c : cases) {
    prompts.push_back(c["prompt"].get<std::vector<int32_t>>());
    expected.push_back(c["continuation"].get<std::vector<int32_t>>());
  }
  GenerationOptions options;
  options.greedy = true;
  options.ignore_eos = true;
  options.max_new_tokens = 16;
  for (bool cache : {true, false}) {
    options.use_kv_cache = cache;
    Generator generator(policy.get(), nullptr, options);
    auto batched = generator.Generate(prompts, 1);  // left-padded together
    ASSERT_TRUE(batched.ok()) << batched.status();
    for (size_t i = 0; i < prompts.size(); ++i) {
      EXPECT_EQ((*batched)[i].token_ids, expected[i]) << "prompt " << i << " cache " << cache;
      EXPECT_EQ((*batched)[i].finish_reason, FinishReason::kLength);
      auto alone = generator.Generate({prompts[i]}, 1);
      ASSERT_TRUE(alone.ok());
      EXPECT_EQ((*alone)[0].token_ids, expected[i]) << "prompt " << i << " alone";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(TinyModels, GreedyMatchesTransformers,
                         ::testing::Values("qwen2_tiny", "llama_tiny"));

TEST(Generator, SeededSamplingIsReproducibleAcrossBatchSizes) {
  auto policy = LoadTiny("qwen2_tiny");
  ASSERT_NE(policy, nullptr);
  GenerationOptions options;
  options.seed = 11;
  options.max_new_tokens = 12;
  options.ignore_eos = true;
  options.max_batch = 64;
  Generator wide(policy.get(), nullptr, options);
  options.max_batch = 3;
  Generator narrow(policy.get(), nullptr, options);
  std::vector<std::vector<int32_t>> prompts = {{5, 6, 7}, {9}, {100, 200, 300, 400}};
  auto a = wide.Generate(prompts, 4);
  auto b = narrow.Generate(prompts, 4);
  auto c = wide.Generate(prompts, 4);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  ASSERT_EQ(a->size(), 12u);
  bool any_differ = false;
  for (size_t i = 0; i < a->size(); ++i) {
    EXPECT_EQ((*a)[i].token_ids, (*b)[i].token_ids) << i;
    EXPECT_EQ((*a)[i].token_ids, (*c)[i].token_ids) << i;
    ASSERT_EQ((*a)[i].logprobs.size(), (*a)[i].token_ids.size());
    for (float lp : (*a)[i].logprobs) EXPECT_LE(lp, 0.0f);
    if (i > 0 && (*a)[i].token_ids != (*a)[0].token_ids) any_differ = true;
  }
  EXPECT_TRUE(any_differ) << "samples of one prompt should differ";
}

TEST(Generator, EachSequenceStopsOnItsOwnStopToken) {
  auto policy = LoadTiny("qwen2_tiny");
  ASSERT_NE(policy, nullptr);
  GenerationOptions options;
  options.greedy = true;
  options.ignore_eos = true;
  options.max_new_tokens = 16;
  Generator probe(policy.get(), nullptr, options);
  auto free_run = probe.Generate({{5, 17, 99, 250}, {7, 8}}, 1);
  ASSERT_TRUE(free_run.ok());
  // Stop the first sequence on its 4th token: the second must run on to its length.
  const int32_t stop = (*free_run)[0].token_ids[3];
  options.stop_token_ids = {stop};
  Generator generator(policy.get(), nullptr, options);
  auto out = generator.Generate({{5, 17, 99, 250}, {7, 8}}, 1);
  ASSERT_TRUE(out.ok());
  const auto& first = (*out)[0];
  EXPECT_EQ(first.finish_reason, FinishReason::kStop);
  EXPECT_EQ(first.token_ids.back(), stop);
  EXPECT_LE(first.token_ids.size(), 4u);
  const auto& second = (*out)[1];
  const auto& second_free = (*free_run)[1].token_ids;
  const bool second_has_stop =
      std::find(second_free.begin(), second_free.end(), stop) != second_free.end();
  if (!second_has_stop) {
    EXPECT_EQ(second.finish_reason, FinishReason::kLength);
    EXPECT_EQ(second.token_ids, second_free);
  }
}

TEST(Generator, RejectsBadPromptsAndOptions) {
  auto policy = LoadTiny("qwen2_tiny");
  ASSERT_NE(policy, nullptr);
  GenerationOptions options;
  Generator generator(policy.get(), nullptr, options);
  EXPECT_FALSE(generator.Generate({{}}, 1).ok());
  auto out_of_range = generator.Generate({{5, 1000}}, 1);
  ASSERT_FALSE(out_of_range.ok());
  EXPECT_NE(out_of_range.status().message().find("1000"), std::string::npos);
  options.top_p = 0;
  Generator bad(policy.get(), nullptr, options);
  EXPECT_FALSE(bad.Generate({{5}}, 1).ok());
  options.top_p = 1;
  options.stop_strings = {"x"};
  Generator no_tokenizer(policy.get(), nullptr, options);
  EXPECT_FALSE(no_tokenizer.Generate({{5}}, 1).ok());
}

}  // namespace
}  // namespace r1rl::model
