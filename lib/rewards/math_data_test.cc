// The math grader on real data (../shared/data): MATH-500's own solutions against their
// answers, GSM8K's "#### N" against the same number written other ways, and negatives made
// from the same rows. Every miss is printed.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lib/rewards/answer_extraction.h"
#include "lib/rewards/latex_normalize.h"
#include "lib/rewards/math_equivalence.h"

namespace r1rl::reward {
namespace {

std::vector<nlohmann::json> ReadJsonl(const std::string& relative) {
  const char* root = std::getenv("R1RL_SOURCE_DIR");
  const std::string path =
      std::string(root != nullptr ? root : ".") + "/../shared/data/" + relative;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::vector<nlohmann::json> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  }
  return rows;
}

TEST(MathData, Math500SolutionsAgreeWithTheirAnswers) {
  CasPool cas(1);
  MathJudge judge(&cas);
  const auto rows = ReadJsonl("math500/test.jsonl");
  ASSERT_EQ(rows.size(), 500u);
  int agree = 0;
  for (const auto& row : rows) {
    const std::string solution = row["solution"], answer = row["answer"];
    ExtractedAnswer got = ExtractAnswer(solution);
    MathJudgement j = judge.Judge(answer, got.text);
    if (j.equivalent) {
      ++agree;
    } else {
      std::cout << "MISS " << row["unique_id"].get<std::string>() << ": answer [" << answer
                << "] boxed [" << got.text << "] normalised [" << NormalizeAnswer(answer)
                << "] vs [" << NormalizeAnswer(got.text) << "] (" << j.how << ")\n";
    }
  }
  std::cout << "MATH-500: " << agree << "/500 solutions judged equivalent to their answer\n";
  EXPECT_GE(agree, 495);
}

// GSM8K's "#### N" against the same number written as a model might: N, N.0, $N, with
// thousands separators, boxed, in an answer tag.
TEST(MathData, Gsm8kNumbersInEveryForm) {
  CasPool cas(1);
  MathJudge judge(&cas);
  const auto rows = ReadJsonl("gsm8k/test.jsonl");
  ASSERT_EQ(rows.size(), 1319u);
  int checks = 0, agree = 0;
  for (const auto& row : rows) {
    ExtractedAnswer gold = ExtractAnswer(row["answer"].get<std::string>());
    ASSERT_EQ(gold.source, AnswerSource::kHashes);
    const std::string n = NormalizeAnswer(gold.text);  // "1,000" in the data becomes "1000"
    std::string grouped = n;                           // 1234567 -> 1,234,567
    const size_t digits_end =
        grouped.find('.') == std::string::npos ? grouped.size() : grouped.find('.');
    for (int pos = static_cast<int>(digits_end) - 3; pos > (grouped[0] == '-' ? 1 : 0); pos -= 3) {
      grouped.insert(static_cast<size_t>(pos), ",");
    }
    std::string spaced = grouped;  // 1 234 567
    std::replace(spaced.begin(), spaced.end(), ',', ' ');
    const std::string forms[] = {n,
                                 n + ".0",
                                 "$" + n,
                                 "\\$" + n,
                                 grouped,
                                 "\\boxed{" + grouped + "}",
                                 "The answer is " + n + ".",
                                 "<answer>" + n + "</answer>",
                                 spaced,
                                 "<answer>So the total is " + grouped + " dollars.</answer>",
                                 "<answer>Answer \\( " + n + " \\)</answer>",
                                 "#### $" + grouped + "$"};
    for (const std::string& form : forms) {
      ++checks;
      MathJudgement j = judge.Judge(
          gold.text, ExtractAnswer(form).text.empty() ? form : ExtractAnswer(form).text);
      if (j.equivalent) {
        ++agree;
      } else {
        std::cout << "MISS gsm8k: #### " << gold.text << " vs [" << form << "] (" << j.how << ")\n";
      }
    }
  }
  std::cout << "GSM8K: " << agree << "/" << checks << " forms judged equivalent\n";
  EXPECT_EQ(agree, checks);
  // Off by one, in the sentence forms: never equivalent (the last number is the answer, not
  // any number).
  int negatives = 0, rejected = 0;
  for (const auto& row : rows) {
    const std::string n = NormalizeAnswer(ExtractAnswer(row["answer"].get<std::string>()).text);
    double v = 0;
    if (!ParsePlainNumber(n, &v) || n.find('.') != std::string::npos) continue;
    const std::string wrong = std::to_string(static_cast<long long>(v) + 1);
    for (const std::string& form : {"<answer>So the total is " + wrong + " dollars.</answer>",
                                    "<answer>From " + n + " we get " + wrong + ".</answer>",
                                    "<answer>Answer \\( " + wrong + " \\)</answer>"}) {
      ++negatives;
      if (!judge.Judge(n, ExtractAnswer(form).text).equivalent) {
        ++rejected;
      } else {
        std::cout << "MISS gsm8k negative: " << n << " vs [" << form << "]\n";
      }
    }
  }
  std::cout << "GSM8K negatives: " << rejected << "/" << negatives << " rejected\n";
  EXPECT_GE(negatives, 3000);
  EXPECT_EQ(rejected, negatives);
}

// Every MATH-500 answer written as references and models write it (issue 21): the reference
// with delimiters, a box or a period; the prediction bare, in delimiters, in a sentence, in
// an answer tag, with its backslashes escaped twice. All must be judged equivalent.
TEST(MathData, Math500AnswersInTheFormsPeopleWrite) {
  CasPool cas(1);
  MathJudge judge(&cas);
  const auto rows = ReadJsonl("math500/test.jsonl");
  int checks = 0, agree = 0;
  for (const auto& row : rows) {
    const std::string a = row["answer"];
    std::string doubled;
    for (char c : a) doubled += c == '\\' ? std::string("\\\\") : std::string(1, c);
    const std::string references[] = {a, "$" + a + "$", "\\boxed{" + a + "}", a + "."};
    const std::string predictions[] = {a,
                                       "$" + a + "$",
                                       "\\(" + a + "\\)",
                                       "$$" + a + "$$",
                                       "The answer is $" + a + "$.",
                                       "Thus we find $" + a + "$.",
                                       "<answer>\\[" + a + "\\]</answer>",
                                       "<answer>" + doubled + "</answer>"};
    for (const std::string& ref : references) {
      for (const std::string& pred : predictions) {
        ++checks;
        const ExtractedAnswer got = ExtractAnswer(pred);
        const MathJudgement j =
            judge.Judge(ref, got.source == AnswerSource::kNone ? pred : got.text);
        if (j.equivalent) {
          ++agree;
        } else {
          std::cout << "MISS form: [" << ref << "] vs [" << pred << "] (" << j.how << ")\n";
        }
      }
    }
  }
  std::cout << "MATH-500 written forms: " << agree << "/" << checks << " judged equivalent\n";
  EXPECT_EQ(agree, checks);
}

// Wrong answers made from MATH-500's own answers: off by one, sign flipped, fraction
// inverted, one member of a list or set changed. None may be judged equivalent.
TEST(MathData, Math500NegativesAreRejected) {
  CasPool cas(1);
  MathJudge judge(&cas);
  const auto rows = ReadJsonl("math500/test.jsonl");
  std::map<std::string, std::pair<int, int>> by_kind;  // kind -> (made, rejected)
  const std::regex frac(R"(^(-?)\\frac\{([^{}]+)\}\{([^{}]+)\}$)");
  for (const auto& row : rows) {
    const std::string answer = row["answer"];
    const std::string norm = NormalizeAnswer(answer);
    std::vector<std::pair<std::string, std::string>> negatives;  // (kind, text)
    double v = 0;
    if (ParsePlainNumber(norm, &v) && norm.find('/') == std::string::npos) {
      if (norm.find('.') == std::string::npos)
        negatives.push_back({"off_by_one", std::to_string(static_cast<long long>(v) + 1)});
      if (v != 0)
        negatives.push_back({"sign_flipped", norm[0] == '-' ? norm.substr(1) : "-" + norm});
    }
    std::smatch m;
    if (std::regex_match(norm, m, frac) && m[2].str() != m[3].str()) {
      negatives.push_back(
          {"fraction_inverted", m[1].str() + "\\frac{" + m[3].str() + "}{" + m[2].str() + "}"});
      negatives.push_back(
          {"sign_flipped", (m[1].str() == "-" ? "" : "-") + norm.substr(m[1].length())});
    }
    // One member of a list, tuple or set changed: its first plain-number member, plus one.
    if (norm.find(',') != std::string::npos) {
      static const std::regex member(R"((^|[,({\[])(-?\d+)(?=[,)}\]]|$))");
      std::smatch mm;
      if (std::regex_search(norm, mm, member)) {
        const long long x = std::stoll(mm[2].str());
        std::string changed = norm;
        changed.replace(static_cast<size_t>(mm.position(2)), mm[2].length(), std::to_string(x + 1));
        negatives.push_back({"member_changed", changed});
      }
    }
    for (const auto& [kind, text] : negatives) {
      // Bare, and in the forms people write (a sentence, delimiters, a boxed reference).
      for (const auto& [ref, pred] : std::vector<std::pair<std::string, std::string>>{
               {answer, text},
               {"$" + answer + "$", "The answer is $" + text + "$."},
               {"\\boxed{" + answer + "}", "Thus we find \\(" + text + "\\)."}}) {
        auto& [made, rejected] = by_kind[kind];
        ++made;
        MathJudgement j = judge.Judge(ref, pred);
        if (!j.equivalent) {
          ++rejected;
        } else {
          std::cout << "MISS negative " << kind << ": [" << ref << "] vs [" << pred << "] ("
                    << j.how << ")\n";
        }
      }
    }
  }
  int made = 0, rejected = 0;
  for (const auto& [kind, counts] : by_kind) {
    std::cout << "MATH-500 negatives, " << kind << ": " << counts.second << "/" << counts.first
              << " rejected\n";
    made += counts.first;
    rejected += counts.second;
  }
  std::cout << "MATH-500 negatives: " << rejected << "/" << made << " rejected\n";
  EXPECT_GE(made, 1200);
  EXPECT_EQ(rejected, made);
}

}  // namespace
}  // namespace r1rl::reward
