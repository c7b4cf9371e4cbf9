#include "lib/pipeline/rejection_filter.h"

#include <cctype>
#include <set>

namespace r1rl::pipeline {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool BlankLine(std::string_view line) { return Trim(line).empty(); }

}  // namespace

std::vector<std::string> Paragraphs(std::string_view text) {
  std::vector<std::string> out;
  std::string current;
  size_t start = 0;
  auto flush = [&] {
    std::string_view t = Trim(current);
    if (!t.empty()) out.emplace_back(t);
    current.clear();
  };
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (BlankLine(line)) {
      flush();
    } else {
      if (!current.empty()) current += '\n';
      current.append(line);
    }
    start = end + 1;
  }
  flush();
  return out;
}

bool HasCodeBlock(std::string_view text) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.substr(0, 3) == "```") return true;
    start = end + 1;
  }
  return false;
}

std::string DedupKey(std::string_view response) {
  std::string out;
  bool space = false;
  for (char c : Trim(response)) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = true;
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

Verdict RejectionFilter::Judge(std::string_view response, const ResponseFacts& f) const {
  Verdict v;
  auto fail = [&](std::string_view reason) { v.reasons.emplace_back(reason); };
  if (f.accuracy < options_.min_accuracy) fail("wrong_answer");
  if (f.format < options_.min_format) fail("bad_format");
  if (f.truncated) fail("truncated");
  if (f.language < options_.min_language) fail("mixed_language");
  const std::vector<std::string> paragraphs = Paragraphs(response);
  if (options_.max_paragraph_chars > 0) {
    for (const std::string& p : paragraphs) {
      if (static_cast<int64_t>(p.size()) > options_.max_paragraph_chars) {
        fail("overlong_paragraph");
        break;
      }
    }
  }
  if (!f.task_has_code && HasCodeBlock(response)) fail("code_block");
  std::set<std::string> seen;
  for (const std::string& p : paragraphs) {
    if (static_cast<int64_t>(p.size()) < options_.min_repeated_chars) continue;
    if (!seen.insert(DedupKey(p)).second) {
      fail("repeated_paragraph");
      break;
    }
  }
  v.kept = v.reasons.empty();
  return v;
}

}  // namespace r1rl::pipeline
