#include "lib/rewards/answer_extraction.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <regex>
#include <vector>

#include "lib/rewards/latex_normalize.h"

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

struct Box {
  size_t start = 0, end = 0;  // the command's first character, one past the group
  std::string content;
};

// The \boxed / \fbox whose command starts at `p` (cmd_len characters), if it is one.
std::optional<Box> BoxAt(std::string_view text, size_t p, size_t cmd_len) {
  const size_t after = p + cmd_len;
  // "\boxedX" is another command; "\boxed{", "\boxed {" and "\boxed 5" are the box.
  if (after < text.size() && std::isalpha(static_cast<unsigned char>(text[after])))
    return std::nullopt;
  size_t i = after;
  while (i < text.size() && text[i] == ' ') ++i;
  if (i < text.size() && text[i] == '{') {
    std::optional<std::string> group = BraceGroup(text, i);
    if (!group) return std::nullopt;
    return Box{p, i + group->size() + 2, *group};
  }
  // "\boxed 5": up to the next space, '$' or end.
  size_t e = i;
  while (e < text.size() && text[e] != '$' && !std::isspace(static_cast<unsigned char>(text[e])))
    ++e;
  if (e == i) return std::nullopt;
  return Box{p, e, std::string(text.substr(i, e - i))};
}

// Every box in `text`, in order (boxes inside boxes are part of their outer box).
std::vector<Box> AllBoxes(std::string_view text) {
  std::vector<Box> boxes;
  size_t from = 0;
  while (true) {
    size_t best = std::string_view::npos, len = 0;
    for (std::string_view cmd : {"\\boxed", "\\fbox"}) {
      const size_t p = text.find(cmd, from);
      if (p < best) {
        best = p;
        len = cmd.size();
      }
    }
    if (best == std::string_view::npos) break;
    if (std::optional<Box> box = BoxAt(text, best, len)) {
      boxes.push_back(*box);
      from = box->end;
    } else {
      from = best + len;
    }
  }
  return boxes;
}

// Whether the text between two boxes only joins them: spaces, ',', ';', '$', '&', "\\",
// \quad, "and" (bare or in \text{}).
bool OnlyConnectors(std::string_view gap) {
  std::string g(gap);
  for (std::string_view t : {"\\qquad", "\\quad", "\\text", "\\mbox", "\\,", "\\;", "\\ ", "\\\\",
                             "\\(", "\\)", "\\[", "\\]"}) {
    for (size_t p; (p = g.find(t)) != std::string::npos;) g.replace(p, t.size(), " ");
  }
  std::string word;
  auto word_ok = [&] {
    // Not "or": "\boxed{15\frac{39}{40}} or \boxed{\frac{639}{40}}" offers one answer twice.
    const bool ok = word.empty() || word == "and";
    word.clear();
    return ok;
  };
  for (char c : g) {
    if (std::isalpha(static_cast<unsigned char>(c))) {
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      continue;
    }
    if (!word_ok()) return false;
    if (!(std::isspace(static_cast<unsigned char>(c)) || c == ',' || c == ';' || c == '$' ||
          c == '&' || c == '{' || c == '}' || c == '.')) {
      return false;
    }
  }
  return word_ok();
}

// The last box and the boxes just before it that only connectors separate, joined by ','.
std::optional<std::string> TrailingBoxes(std::string_view text) {
  const std::vector<Box> boxes = AllBoxes(text);
  if (boxes.empty()) return std::nullopt;
  size_t first = boxes.size() - 1;
  while (first > 0 && OnlyConnectors(text.substr(boxes[first - 1].end,
                                                 boxes[first].start - boxes[first - 1].end))) {
    --first;
  }
  std::string joined;
  for (size_t i = first; i < boxes.size(); ++i) {
    if (i > first) joined += ",";
    joined += Trim(boxes[i].content);
  }
  return joined;
}

std::string StripSentenceEnd(std::string t) {
  t = Trim(t);
  while (!t.empty() && (t.back() == '.' || t.back() == ',' || t.back() == ';' || t.back() == '!'))
    t.pop_back();
  return Trim(t);
}

// A math segment wrapping the whole text: $$…$$, $…$, \(…\), \[…\]; its content, else nullopt.
std::optional<std::string> Unwrap(const std::string& t) {
  for (auto [open, close] : {std::pair<std::string_view, std::string_view>{"$$", "$$"},
                             {"\\(", "\\)"},
                             {"\\[", "\\]"},
                             {"$", "$"}}) {
    if (t.size() < open.size() + close.size() || t.compare(0, open.size(), open) != 0 ||
        t.compare(t.size() - close.size(), close.size(), close) != 0) {
      continue;
    }
    std::string inner = t.substr(open.size(), t.size() - open.size() - close.size());
    // "$a$ and $b$" is two segments, not one ("\$" inside is a dollar sign).
    std::string bare = inner;
    for (size_t p; (p = bare.find("\\$")) != std::string::npos;) bare.erase(p, 2);
    if (bare.find(open) != std::string::npos || bare.find(close) != std::string::npos) continue;
    return Trim(inner);
  }
  return std::nullopt;
}

// Words that are math, not prose: function names and the connectors of a solution list.
bool IsMathWord(const std::string& w) {
  static const char* const kMath[] = {
      "sin",  "cos",  "tan", "cot", "sec", "csc",   "log",    "ln",     "exp",    "lim",
      "max",  "min",  "gcd", "lcm", "mod", "det",   "arcsin", "arccos", "arctan", "sinh",
      "cosh", "tanh", "pi",  "or",  "and", "infty", "sqrt",   "frac",   "pmod",   "deg"};
  for (const char* m : kMath)
    if (w == m) return true;
  return false;
}

// Whether `t` reads as a sentence: it has a prose word, standing on its own (not glued to a
// number or a symbol, as in "2ab" or "x_{ab}"), outside LaTeX commands and \text{}.
bool IsSentence(const std::string& t) {
  static const char* const kShortWords[] = {
      "is", "so", "we", "of", "to", "in", "it", "be", "as", "at", "by", "an", "on", "if", "cm",
      "mm", "km", "kg", "mg", "ml", "ft", "yd", "mi", "hr", "am", "pm", "no", "m",  "s",  "g"};
  int text_depth = -1;  // brace depth of an open \text{…}
  int depth = 0;
  for (size_t i = 0; i < t.size();) {
    const char c = t[i];
    if (c == '\\') {
      size_t e = i + 1;
      while (e < t.size() && std::isalpha(static_cast<unsigned char>(t[e]))) ++e;
      const std::string cmd = t.substr(i + 1, e - i - 1);
      if ((cmd == "text" || cmd == "mbox" || cmd == "mathrm" || cmd == "textbf") && e < t.size() &&
          t[e] == '{' && text_depth < 0) {
        text_depth = depth;
      }
      i = std::max(e, i + 2);
      continue;
    }
    if (c == '{') ++depth;
    if (c == '}' && --depth == text_depth) text_depth = -1;
    if (!std::isalpha(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    size_t e = i;
    while (e < t.size() && std::isalpha(static_cast<unsigned char>(t[e]))) ++e;
    const std::string word = t.substr(i, e - i);
    const char before = i > 0 ? t[i - 1] : ' ';
    const char after = e < t.size() ? t[e] : ' ';
    const bool alone =
        (std::isspace(static_cast<unsigned char>(before)) || before == '(' || before == '"' ||
         before == ',') &&
        (std::isspace(static_cast<unsigned char>(after)) || after == '.' || after == ',' ||
         after == ':' || after == '!' || after == '?' || after == ';' || after == ')');
    i = e;
    if (text_depth >= 0 || !alone) continue;
    std::string lower;
    for (char ch : word) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (IsMathWord(lower)) continue;
    if (lower.size() >= 3) return true;
    for (const char* w : kShortWords)
      if (lower == w && lower.size() == 2) return true;
  }
  return false;
}

// The last (or first) math segment of a sentence: $…$, $$…$$, \(…\), \[…\].
std::optional<std::string> MathSegment(const std::string& t, bool last) {
  // "\$" inside a segment is a dollar sign, not its end.
  static const std::regex kSegment(
      R"(\$\$((?:[^$\\]|\\[\s\S])+)\$\$|\$((?:[^$\\]|\\[\s\S])+)\$|\\\(([\s\S]+?)\\\)|\\\[([\s\S]+?)\\\])");
  std::optional<std::string> found;
  for (auto it = std::sregex_iterator(t.begin(), t.end(), kSegment); it != std::sregex_iterator();
       ++it) {
    for (int g = 1; g <= 4; ++g) {
      if ((*it)[g].matched) found = Trim((*it)[g].str());
    }
    if (!last && found) return found;
  }
  return found;
}

// The last (or first) number in a sentence: "1,000.99", "1 000", "-3", ".5", "3/4", "28%".
std::optional<std::string> NumberInSentence(const std::string& t, bool last) {
  static const std::regex kNumber(
      R"((^|[^\w.])(-?(\d{1,3}(,\d{3})+(\.\d+)?|\d{1,3}( \d{3})+(\.\d+)?|\d+(\.\d+)?|\.\d+)(/\d+)?%?))");
  std::optional<std::string> found;
  for (auto it = std::sregex_iterator(t.begin(), t.end(), kNumber); it != std::sregex_iterator();
       ++it) {
    found = (*it)[2].str();
    if (!last) return found;
  }
  return found;
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
  const std::vector<Box> boxes = AllBoxes(text);
  if (boxes.empty()) return std::nullopt;
  return boxes.back().content;
}

std::string FinalAnswerInText(std::string_view text, bool read_sentences) {
  const std::string undone = UndoDoubledBackslashes(text);
  if (std::optional<std::string> boxes = TrailingBoxes(undone)) return *boxes;
  std::string t = StripSentenceEnd(undone);
  if (std::optional<std::string> inner = Unwrap(t)) return StripSentenceEnd(*inner);
  if (!read_sentences || !IsSentence(t)) return t;
  // The final answer is at the end; the regular expressions below recurse per character, so
  // a long text is read from its last kMaxAnswerChars.
  if (t.size() > kMaxAnswerChars) t = t.substr(t.size() - kMaxAnswerChars);
  // After an "answer" phrase: the first math segment or number after it, or all of the rest
  // when that is not a sentence.
  for (std::string_view phrase : {"final answer is", "answer is", "answer:", "answer"}) {
    const size_t p = RFindNoCase(t, phrase);
    if (p == std::string_view::npos) continue;
    std::string rest = Trim(t.substr(p + phrase.size()));
    while (!rest.empty() && (rest.front() == ':' || rest.front() == '='))
      rest = Trim(rest.substr(1));
    if (rest.empty()) continue;
    if (std::optional<std::string> inner = Unwrap(StripSentenceEnd(rest))) return *inner;
    if (std::optional<std::string> segment = MathSegment(rest, /*last=*/false)) return *segment;
    if (!IsSentence(StripSentenceEnd(rest))) return StripSentenceEnd(rest);
    if (std::optional<std::string> number = NumberInSentence(rest, /*last=*/false)) return *number;
    return StripSentenceEnd(rest);  // words: "the answer is Evelyn."
  }
  if (std::optional<std::string> segment = MathSegment(t, /*last=*/true)) return *segment;
  if (std::optional<std::string> number = NumberInSentence(t, /*last=*/true)) return *number;
  return t;  // words: "Monday", "yes"
}

ExtractedAnswer ExtractAnswer(std::string_view response) {
  // 1. The last <answer>…</answer>.
  const size_t close = response.rfind("</answer>");
  if (close != std::string_view::npos) {
    const size_t open = response.rfind("<answer>", close);
    if (open != std::string_view::npos) {
      return {FinalAnswerInText(response.substr(open + 8, close - open - 8)),
              AnswerSource::kAnswerTag};
    }
  }
  // 2. The last box.
  if (auto boxes = TrailingBoxes(response)) return {*boxes, AnswerSource::kBoxed};
  // 3. "The answer is …" up to the end of its line.
  for (std::string_view phrase : {"final answer is", "the answer is", "answer:"}) {
    const size_t p = RFindNoCase(response, phrase);
    if (p == std::string_view::npos) continue;
    // From the phrase to the end of its line: the first answer after the phrase counts
    // ("the answer is 42 because 40 + 2" is 42).
    std::string_view line = response.substr(p);
    line = line.substr(0, std::min(line.find('\n'), line.size()));
    if (Trim(line.substr(phrase.size())).empty()) continue;
    std::string t = FinalAnswerInText(line);
    if (!t.empty()) return {t, AnswerSource::kAnswerIs};
  }
  // 4. GSM8K's "#### N".
  const size_t h = response.rfind("####");
  if (h != std::string_view::npos) {
    std::string_view rest = response.substr(h + 4);
    rest = rest.substr(0, std::min(rest.find('\n'), rest.size()));
    std::string t = FinalAnswerInText(rest);
    if (!t.empty()) return {t, AnswerSource::kHashes};
  }
  return {};
}

}  // namespace r1rl::reward
