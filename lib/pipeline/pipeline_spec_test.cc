// The pipeline file: the R1 recipe parses and resolves; bad files (unknown stage kind, a
// cycle, a missing input, a reference to nothing) get errors naming the stage and field.
#include "lib/pipeline/pipeline_spec.h"

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"

namespace r1rl::pipeline {
namespace {

const char kR1[] = R"(
pipeline:
  name: r1
  base_model: "${base}"
  vars: {base: assets/demo-base, data: runs/data}
  set: {prompt.format: raw, sft.steps: 5}
  eval_each: {data: "${data}/heldout.jsonl", k: 4}
  stages:
    - {name: cold_start, kind: sft, data: "${data}/cold_start.jsonl"}
    - {name: reasoning_rl, kind: rl, prompts: "${data}/prompts.jsonl", set: {grpo.steps: 3}}
    - {name: rejection, kind: rejection_sample, prompts: "${data}/prompts.jsonl", samples: 8, keep: 2}
    - name: sft_data
      kind: merge
      inputs:
        - {data: "@rejection"}
        - {data: "${data}/cold_start.jsonl", weight: 0.5}
    - {name: sft_again, kind: sft, model: "@base", data: "@sft_data"}
    - {name: final_rl, kind: rl, prompts: "${data}/prompts.jsonl"}
    - {name: eval, kind: eval, data: "${data}/heldout.jsonl", k: 16}
)";

std::string Error(const std::string& yaml) {
  auto spec = ParsePipeline(yaml, "p.yaml");
  return spec.ok() ? "" : std::string(spec.status().message());
}

TEST(PipelineSpec, ParsesTheR1Recipe) {
  auto spec = ParsePipeline(kR1, "r1.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->name, "r1");
  EXPECT_EQ(spec->run_dir, "runs/r1");
  EXPECT_EQ(spec->base_model, "assets/demo-base");
  EXPECT_EQ(spec->eval_each.data, "runs/data/heldout.jsonl");
  EXPECT_EQ(spec->eval_each.k, 4);
  ASSERT_EQ(spec->stages.size(), 7u);
  const auto& s = spec->stages;
  EXPECT_EQ(s[0].name, "cold_start");
  EXPECT_EQ(s[0].model.stage, "base");          // the first stage starts from the base
  EXPECT_EQ(s[1].model.stage, "cold_start");    // the model stage before it
  EXPECT_EQ(s[2].model.stage, "reasoning_rl");  // rejection samples the RL model
  EXPECT_EQ(s[3].kind, StageKind::kMerge);
  ASSERT_EQ(s[3].inputs.size(), 2u);
  EXPECT_EQ(s[3].inputs[0].data.stage, "rejection");
  EXPECT_EQ(s[3].inputs[1].data.path, "runs/data/cold_start.jsonl");
  EXPECT_DOUBLE_EQ(s[3].inputs[1].weight, 0.5);
  EXPECT_EQ(s[4].model.stage, "base");  // R1 re-trains the base model
  EXPECT_EQ(s[4].data.stage, "sft_data");
  EXPECT_EQ(s[5].model.stage, "sft_again");
  EXPECT_EQ(s[6].model.stage, "final_rl");
  EXPECT_EQ(s[6].k, 16);
  EXPECT_EQ(s[2].samples, 8);
  EXPECT_EQ(s[2].keep, 2);
  EXPECT_EQ(s[1].set, std::vector<std::string>{"grpo.steps=3"});
  EXPECT_EQ(spec->set, (std::vector<std::string>{"prompt.format=raw", "sft.steps=5"}));
}

TEST(PipelineSpec, VarsCanBeOverridden) {
  auto spec = ParsePipeline(kR1, "r1.yaml", {{"data", "/tmp/d"}, {"name", "mine"}});
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->stages[0].data.path, "/tmp/d/cold_start.jsonl");
  EXPECT_EQ(spec->run_dir, "runs/mine");
  auto bad = ParsePipeline(kR1, "r1.yaml", {{"dta", "x"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("\"dta\" is not a variable"), std::string::npos)
      << bad.status();
}

TEST(PipelineSpec, InputsRunFirst) {
  // Listed after its reader, the data stage still runs first.
  auto spec = ParsePipeline(R"(
pipeline:
  base_model: m
  stages:
    - {name: tune, kind: sft, data: "@mix"}
    - {name: mix, kind: merge, inputs: [a.jsonl]}
)",
                            "p.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->stages[0].name, "mix");
  EXPECT_EQ(spec->stages[1].name, "tune");
}

TEST(PipelineSpec, BadFilesAreNamed) {
  EXPECT_NE(
      Error("pipeline:\n  base_model: m\n  stages:\n    - {name: a, kind: distill, data: x}\n")
          .find("stage a.kind: unknown stage kind \"distill\""),
      std::string::npos);
  // A cycle: a reads b's data, b samples with a's model.
  const std::string cycle = Error(R"(
pipeline:
  base_model: m
  stages:
    - {name: a, kind: sft, data: "@b"}
    - {name: b, kind: rejection_sample, model: "@a", prompts: p.jsonl}
)");
  EXPECT_NE(cycle.find("cycle: a -> b -> a"), std::string::npos) << cycle;
  EXPECT_NE(
      Error(
          "pipeline:\n  base_model: m\n  stages:\n    - {name: a, kind: sft, data: \"@nothing\"}\n")
          .find("stage a.data: \"@nothing\" names no stage"),
      std::string::npos);
  EXPECT_NE(Error("pipeline:\n  base_model: m\n  stages:\n    - {name: e, kind: eval, data: x}\n"
                  "    - {name: a, kind: sft, model: \"@e\", data: x}\n")
                .find("\"@e\" is a eval stage: it makes no model"),
            std::string::npos);
  EXPECT_NE(Error("pipeline:\n  base_model: m\n  stages:\n    - {name: a, kind: sft}\n")
                .find("stage a: no data"),
            std::string::npos);
  EXPECT_NE(Error("pipeline:\n  base_model: m\n  stages:\n    - {name: a, kind: merge, inputs: "
                  "[x], model: y}\n")
                .find("unknown field \"model\""),
            std::string::npos);
  EXPECT_NE(Error("pipeline:\n  base_model: m\n  stages:\n    - {name: a, kind: sft, data: x}\n"
                  "    - {name: a, kind: rl, prompts: x}\n")
                .find("two stages are named \"a\""),
            std::string::npos);
  EXPECT_NE(
      Error("pipeline:\n  base_model: ${nope}\n  stages: []\n").find("unknown variable ${nope}"),
      std::string::npos);
  EXPECT_NE(Error("stages: []\n").find("no `pipeline:` map"), std::string::npos);
  EXPECT_NE(Error("pipeline: [unclosed\n").find("not valid YAML"), std::string::npos);
}

TEST(PipelineSpec, MissingInputFilesAreNamed) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "r1rl_pipeline_spec_test";
  fs::remove_all(dir);
  fs::create_directories(dir / "model");
  std::ofstream(dir / "model/config.json") << "{}";
  std::ofstream(dir / "cold.jsonl") << "";
  auto spec = ParsePipeline(R"(
pipeline:
  base_model: "${dir}/model"
  vars: {dir: )" + dir.string() +
                                R"(}
  stages:
    - {name: cold_start, kind: sft, data: "${dir}/cold.jsonl"}
    - {name: rl, kind: rl, prompts: "${dir}/missing.jsonl"}
)",
                            "p.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  absl::Status s = CheckInputsExist(*spec);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(s.message().find("stage rl.prompts = " + (dir / "missing.jsonl").string()),
            std::string::npos)
      << s;
  std::ofstream(dir / "missing.jsonl") << "";
  EXPECT_TRUE(CheckInputsExist(*spec).ok());
  spec->base_model = (dir / "nomodel").string();
  EXPECT_NE(CheckInputsExist(*spec).message().find("pipeline.base_model"), std::string::npos);
}

}  // namespace
}  // namespace r1rl::pipeline
