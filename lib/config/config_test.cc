#include "lib/config/config.h"

#include <fstream>
#include <sstream>

#include "gtest/gtest.h"
#include "lib/config/config_schema.h"

namespace r1rl::config {
namespace {

TEST(Config, DefaultsComeFromTheSchema) {
  auto config = Config::FromYaml("");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_DOUBLE_EQ(config->GetDouble("generation.temperature"), 1.0);
  EXPECT_EQ(config->GetInt("generation.num_samples"), 1);
  EXPECT_EQ(config->GetString("prompt.format"), "r1-zero");
  EXPECT_TRUE(config->GetStringList("generation.stop_strings").empty());
  EXPECT_FALSE(config->IsSet("generation.temperature"));
}

TEST(Config, NestedYamlAndOverridesApplyInOrder) {
  auto config =
      Config::FromYaml("generation:\n  temperature: 0.7\n  stop_strings: [\"</answer>\"]\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_DOUBLE_EQ(config->GetDouble("generation.temperature"), 0.7);
  EXPECT_EQ(config->GetStringList("generation.stop_strings"),
            std::vector<std::string>{"</answer>"});
  ASSERT_TRUE(config->Set("generation.temperature=0.5").ok());
  ASSERT_TRUE(config->Set("generation.stop_token_ids=[1, 2]").ok());
  EXPECT_DOUBLE_EQ(config->GetDouble("generation.temperature"), 0.5);
  EXPECT_EQ(config->GetIntList("generation.stop_token_ids"), (std::vector<int64_t>{1, 2}));
}

TEST(Config, UnknownKeyIsRejectedWithItsName) {
  auto config = Config::FromYaml("generation:\n  temprature: 0.7\n", "demo.yaml");
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("generation.temprature"), std::string::npos);
  EXPECT_NE(config.status().message().find("demo.yaml"), std::string::npos);
  Config good = *Config::FromYaml("");
  absl::Status status = good.Set("model.nope=1");
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("model.nope"), std::string::npos);
}

TEST(Config, WrongTypeIsRejectedWithKeyAndValue) {
  Config config = *Config::FromYaml("");
  absl::Status status = config.Set("generation.num_samples=lots");
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("generation.num_samples"), std::string::npos);
  EXPECT_NE(status.message().find("lots"), std::string::npos);
  EXPECT_FALSE(config.Set("generation.max_new_tokens=1.5").ok());
  EXPECT_FALSE(config.Set("no-equals-sign").ok());
  EXPECT_FALSE(Config::FromYaml("generation: [1, 2").ok());
}

TEST(Config, EffectiveYamlRoundTrips) {
  Config config = *Config::FromYaml("generation:\n  top_k: 20\n");
  auto again = Config::FromYaml(config.ToYaml());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->GetInt("generation.top_k"), 20);
}

TEST(Config, EveryShippedConfigFileLoads) {
  for (const char* file : {"configs/generate.yaml"}) {
    auto config = Config::Load({file}, {});
    EXPECT_TRUE(config.ok()) << file << ": " << config.status();
  }
}

TEST(ConfigSchema, DocsConfigurationMdIsCurrent) {
  std::ifstream in("docs/configuration.md");
  ASSERT_TRUE(in) << "docs/configuration.md is missing; write it with `r1rl config --docs`";
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), SchemaMarkdown()) << "docs/configuration.md is stale: regenerate with "
                                             "`r1rl config --docs > docs/configuration.md`";
}

}  // namespace
TEST(ConfigRanges, EveryDefaultIsInItsRange) {
  for (const KeySpec& spec : Schema()) {
    const KeyRange* r = FindRange(spec.path);
    if (r == nullptr) continue;
    ASSERT_TRUE(spec.type == KeyType::kInt || spec.type == KeyType::kDouble) << spec.path;
    EXPECT_TRUE(Config::Load({}, {spec.path + "=" + spec.default_value}).ok()) << spec.path;
  }
}

TEST(ConfigRanges, AValueOutsideItsRangeIsRefusedNamingKeyAndValue) {
  auto c = Config::FromYaml("");
  ASSERT_TRUE(c.ok());
  absl::Status s = c->Set("generation.num_samples=-4");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(s.message()).find("generation.num_samples = -4"), std::string::npos)
      << s.message();
  EXPECT_FALSE(c->Set("generation.top_p=1.5").ok());
  EXPECT_TRUE(c->Set("generation.top_p=1").ok());
  auto y = Config::FromYaml("grpo:\n  ppo_epochs: 0\n", "a.yaml");
  ASSERT_FALSE(y.ok());
  EXPECT_NE(std::string(y.status().message()).find("a.yaml: grpo.ppo_epochs = 0"),
            std::string::npos)
      << y.status().message();
}

}  // namespace r1rl::config
