// Encode throughput of the real tokenizers on MATH-500 and GSM8K text.
//
//   tokenizer_bench [data_dir] [repetitions]
//
// data_dir defaults to $R1RL_SOURCE_DIR/../shared/data (or ../shared/data from the working
// directory). Each dataset is encoded document by document (MATH-500: problem + "\n" +
// solution; GSM8K test: question + "\n" + answer); the table reports the load time, the first
// (cold BPE cache) pass and the median of `repetitions` passes in MB/s of UTF-8 input.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/tokenizer/tokenizer.h"

namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::vector<std::string> ReadDocuments(const std::string& path, const char* a, const char* b) {
  std::vector<std::string> docs;
  std::ifstream file(path);
  std::string line;
  while (std::getline(file, line)) {
    const nlohmann::json row = nlohmann::json::parse(line);
    docs.push_back(row[a].get<std::string>() + "\n" + row[b].get<std::string>());
  }
  return docs;
}

struct Pass {
  double seconds;
  size_t tokens;
};

Pass EncodeAll(const r1rl::tokenizer::Tokenizer& tokenizer, const std::vector<std::string>& docs) {
  const Clock::time_point start = Clock::now();
  size_t tokens = 0;
  for (const std::string& doc : docs) tokens += tokenizer.Encode(doc).size();
  return {SecondsSince(start), tokens};
}

}  // namespace

int main(int argc, char** argv) {
  std::string data_dir;
  if (argc > 1) {
    data_dir = argv[1];
  } else if (const char* root = std::getenv("R1RL_SOURCE_DIR")) {
    data_dir = std::string(root) + "/../shared/data";
  } else {
    data_dir = "../shared/data";
  }
  const int repetitions = argc > 2 ? std::max(1, std::atoi(argv[2])) : 7;

  struct Dataset {
    const char* name;
    std::vector<std::string> docs;
    size_t bytes = 0;
  };
  std::vector<Dataset> datasets = {
      {"math500", ReadDocuments(data_dir + "/math500/test.jsonl", "problem", "solution")},
      {"gsm8k", ReadDocuments(data_dir + "/gsm8k/test.jsonl", "question", "answer")}};
  for (Dataset& d : datasets) {
    for (const std::string& doc : d.docs) d.bytes += doc.size();
    if (d.docs.empty()) {
      std::fprintf(stderr, "no documents in %s/%s\n", data_dir.c_str(), d.name);
      return 1;
    }
  }

  std::printf("%-9s %-8s %7s %9s %9s %12s %12s\n", "tokenizer", "dataset", "load_s", "MB", "tokens",
              "cold_MB/s", "median_MB/s");
  for (const char* name : {"qwen2.5", "smollm3", "gpt2"}) {
    const Clock::time_point load_start = Clock::now();
    auto tokenizer =
        r1rl::tokenizer::LoadTokenizer(data_dir + "/tokenizers/" + name + "/tokenizer.json");
    const double load_seconds = SecondsSince(load_start);
    if (!tokenizer.ok()) {
      std::fprintf(stderr, "%s\n", std::string(tokenizer.status().message()).c_str());
      return 1;
    }
    for (const Dataset& d : datasets) {
      const Pass cold = EncodeAll(**tokenizer, d.docs);
      std::vector<double> seconds;
      for (int r = 0; r < repetitions; ++r)
        seconds.push_back(EncodeAll(**tokenizer, d.docs).seconds);
      std::sort(seconds.begin(), seconds.end());
      const double mb = d.bytes / 1e6;
      std::printf("%-9s %-8s %7.2f %9.2f %9zu %12.1f %12.1f\n", name, d.name, load_seconds, mb,
                  cold.tokens, mb / cold.seconds, mb / seconds[seconds.size() / 2]);
    }
  }
  return 0;
}
