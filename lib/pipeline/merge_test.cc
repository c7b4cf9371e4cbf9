// Merging SFT sets: weights, the seeded shuffle, bad rows named by file and line.
#include "lib/pipeline/merge.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "gtest/gtest.h"

namespace r1rl::pipeline {
namespace {

namespace fs = std::filesystem;

std::string Write(const std::string& name, int rows, const std::string& tag) {
  const std::string path = (fs::temp_directory_path() / ("r1rl_merge_" + name)).string();
  std::ofstream out(path);
  for (int i = 0; i < rows; ++i)
    out << nlohmann::json{{"prompt", tag + std::to_string(i)}, {"response", "r"}}.dump() << "\n";
  return path;
}

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

TEST(Merge, WeightsCopyRowsAndTheShuffleIsSeeded) {
  const std::string a = Write("a.jsonl", 100, "a"), b = Write("b.jsonl", 400, "b");
  const std::string out1 = (fs::temp_directory_path() / "r1rl_merge_out1.jsonl").string();
  const std::string out2 = (fs::temp_directory_path() / "r1rl_merge_out2.jsonl").string();
  auto s = MergeSftSets({{a, 2.0}, {b, 0.25}}, 7, out1);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->rows_in, (std::vector<int64_t>{100, 400}));
  EXPECT_EQ(s->rows_taken[0], 200);  // every row twice
  EXPECT_GT(s->rows_taken[1], 60);   // about a quarter of 400
  EXPECT_LT(s->rows_taken[1], 140);
  EXPECT_EQ(s->rows_out, s->rows_taken[0] + s->rows_taken[1]);
  const auto lines = Lines(out1);
  ASSERT_EQ(static_cast<int64_t>(lines.size()), s->rows_out);
  std::map<std::string, int> count;
  for (const auto& l : lines) ++count[nlohmann::json::parse(l)["prompt"].get<std::string>()];
  EXPECT_EQ(count["a0"], 2);
  EXPECT_EQ(count["a99"], 2);
  // Shuffled: the first 200 lines are not all from a.
  int from_a = 0;
  for (size_t i = 0; i < 200; ++i) from_a += lines[i].find("\"a") != std::string::npos;
  EXPECT_LT(from_a, 200);
  // Same seed, same file; another seed, another order.
  ASSERT_TRUE(MergeSftSets({{a, 2.0}, {b, 0.25}}, 7, out2).ok());
  EXPECT_EQ(Lines(out2), lines);
  ASSERT_TRUE(MergeSftSets({{a, 2.0}, {b, 0.25}}, 8, out2).ok());
  EXPECT_NE(Lines(out2), lines);
}

TEST(Merge, BadRowsAreNamed) {
  const std::string bad = (fs::temp_directory_path() / "r1rl_merge_bad.jsonl").string();
  std::ofstream(bad) << "{\"prompt\": \"p\", \"response\": \"r\"}\n{\"prompt\": \"p\"}\n";
  auto s = MergeSftSets({{bad, 1.0}}, 1, bad + ".out");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("line 2"), std::string::npos) << s.status();
  EXPECT_NE(s.status().message().find("response"), std::string::npos) << s.status();
  auto missing = MergeSftSets({{"/nonexistent/x.jsonl", 1.0}}, 1, bad + ".out");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace r1rl::pipeline
