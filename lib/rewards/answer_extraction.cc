#include "lib/rewards/answer_extraction.h"

#include <algorithm>
#include <cctype>

namespace r1rl::reward {
namespace {

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

// Position of the last occurrence of `needle`, case-insensitive, or npos.
size_t RFindNoCase(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return std::string_view::npos;
  for (size_t i = hay.size() - needle.size() + 1; i-- > 0;) {
    bool match = true;
    for (size_t k = 0; k < needle.size() && match; ++k) {
      match = std::tolower(static_cast<unsigned char>(hay[i + k])) ==
              std::tolower(static_cast<unsigned char>(needle[k]));
    }
    if (match) return i;
  }
  return std::string_view::npos;
}

// Content of the brace group opening at `open` (text[open] == '{'), or nullopt.
std::optional<std::string> BraceGroup(std::string_view text, size_t open) {
  int depth = 0;
  for (size_t i = open; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {  // \{ and \} do not count
      ++i;
      continue;
    }
    if (text[i] == '{') ++depth;
    if (text[i] == '}' && --depth == 0) return std::string(text.substr(open + 1, i - open - 1));
  }
  return std::nullopt;
}

// Strips a sentence's end and wrapping: "$x$." -> "x".
std::string CleanSentenceAnswer(std::string_view s) {
  std::string t = Trim(s);
  while (!t.empty() && (t.back() == '.' || t.back() == ',' || t.back() == ';' || t.back() == '!')) {
    t.pop_back();
  }
  t = Trim(t);
  if (t.size() >= 2 && t.front() == '$' && t.back() == '$') t = Trim(t.substr(1, t.size() - 2));
  if (auto boxed = LastBoxed(t)) return Trim(*boxed);
  return t;
}

}  // namespace

const char* AnswerSourceName(AnswerSource source) {
  switch (source) {
    case AnswerSource::kNone:
      return "none";
    case AnswerSource::kAnswerTag:
      return "answer_tag";
    case AnswerSource::kBoxed:
      return "boxed";
    case AnswerSource::kAnswerIs:
      return "answer_is";
    case AnswerSource::kHashes:
      return "hashes";
  }
  return "none";
}

std::optional<std::string> LastBoxed(std::string_view text) {
  size_t best = std::string_view::npos, len = 0;
  for (std::string_view cmd : {"\\boxed", "\\fbox"}) {
    size_t p = text.rfind(cmd);
    // "\boxedX" is another command; "\boxed{", "\boxed {" and "\boxed 5" are the box.
    while (p != std::string_view::npos) {
      const size_t after = p + cmd.size();
      if (after >= text.size() || !std::isalpha(static_cast<unsigned char>(text[after]))) break;
      p = p == 0 ? std::string_view::npos : text.rfind(cmd, p - 1);
    }
    if (p != std::string_view::npos && (best == std::string_view::npos || p > best)) {
      best = p;
      len = cmd.size();
    }
  }
  if (best == std::string_view::npos) return std::nullopt;
  size_t i = best + len;
  while (i < text.size() && text[i] == ' ') ++i;
  if (i < text.size() && text[i] == '{') return BraceGroup(text, i);
  // "\boxed 5": up to the next space, '$' or end.
  size_t e = i;
  while (e < text.size() && text[e] != '$' && !std::isspace(static_cast<unsigned char>(text[e])))
    ++e;
  if (e == i) return std::nullopt;
  return std::string(text.substr(i, e - i));
}

ExtractedAnswer ExtractAnswer(std::string_view response) {
  // 1. The last <answer>…</answer>.
  const size_t close = response.rfind("</answer>");
  if (close != std::string_view::npos) {
    const size_t open = response.rfind("<answer>", close);
    if (open != std::string_view::npos) {
      std::string_view inner = response.substr(open + 8, close - open - 8);
      if (auto boxed = LastBoxed(inner)) return {Trim(*boxed), AnswerSource::kAnswerTag};
      std::string t = Trim(inner);
      if (t.size() >= 2 && t.front() == '$' && t.back() == '$') t = Trim(t.substr(1, t.size() - 2));
      return {t, AnswerSource::kAnswerTag};
    }
  }
  // 2. The last box.
  if (auto boxed = LastBoxed(response)) return {Trim(*boxed), AnswerSource::kBoxed};
  // 3. "The answer is …" up to the end of its line.
  for (std::string_view phrase : {"final answer is", "the answer is", "answer:"}) {
    const size_t p = RFindNoCase(response, phrase);
    if (p == std::string_view::npos) continue;
    std::string_view rest = response.substr(p + phrase.size());
    rest = rest.substr(0, std::min(rest.find('\n'), rest.size()));
    if (rest.size() > 0 && rest.front() == ':') rest.remove_prefix(1);
    std::string t = CleanSentenceAnswer(rest);
    if (!t.empty()) return {t, AnswerSource::kAnswerIs};
  }
  // 4. GSM8K's "#### N".
  const size_t h = response.rfind("####");
  if (h != std::string_view::npos) {
    std::string_view rest = response.substr(h + 4);
    rest = rest.substr(0, std::min(rest.find('\n'), rest.size()));
    std::string t = CleanSentenceAnswer(rest);
    if (!t.empty()) return {t, AnswerSource::kHashes};
  }
  return {};
}

}  // namespace r1rl::reward
