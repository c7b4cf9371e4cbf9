#include "lib/rewards/latex_normalize.h"

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <regex>
#include <vector>

namespace r1rl::reward {
namespace {

void ReplaceAll(std::string* s, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  size_t p = 0;
  while ((p = s->find(from, p)) != std::string::npos) {
    s->replace(p, from.size(), to);
    p += to.size();
  }
}

// Removes `cmd` where it is a whole command (not the prefix of a longer one).
void RemoveCommand(std::string* s, std::string_view cmd) {
  size_t p = 0;
  while ((p = s->find(cmd, p)) != std::string::npos) {
    const size_t after = p + cmd.size();
    if (after < s->size() && std::isalpha(static_cast<unsigned char>((*s)[after])) &&
        std::isalpha(static_cast<unsigned char>(cmd.back()))) {
      p = after;
      continue;
    }
    s->erase(p, cmd.size());
  }
}

// Replaces `cmd` (a command name with its backslash) where it is a whole command.
void ReplaceCommand(std::string* s, std::string_view cmd, std::string_view to) {
  size_t p = 0;
  while ((p = s->find(cmd, p)) != std::string::npos) {
    const size_t after = p + cmd.size();
    if (after < s->size() && std::isalpha(static_cast<unsigned char>((*s)[after]))) {
      p = after;
      continue;
    }
    s->replace(p, cmd.size(), to);
    p += to.size();
  }
}

// Position just past the brace group opening at `open`, or npos.
size_t GroupEnd(const std::string& s, size_t open) {
  int depth = 0;
  for (size_t i = open; i < s.size(); ++i) {
    if (s[i] == '{') ++depth;
    if (s[i] == '}' && --depth == 0) return i + 1;
  }
  return std::string::npos;
}

bool IsUnitWord(std::string_view w) {
  // Letters, spaces and the odd '.' ("sq. ft") only: a unit or a word, not math.
  bool letter = false;
  for (char c : w) {
    if (std::isalpha(static_cast<unsigned char>(c))) {
      letter = true;
    } else if (c != ' ' && c != '.') {
      return false;
    }
  }
  return letter;
}

// \text{…}: a unit word after a value is dropped (with a following ^2/^3); otherwise the
// command is replaced by its content.
void ResolveText(std::string* s) {
  size_t p;
  while ((p = s->find("\\text{")) != std::string::npos) {
    const size_t open = p + 5, end = GroupEnd(*s, open);
    if (end == std::string::npos) {
      s->erase(p, 5);
      continue;
    }
    const std::string inner = s->substr(open + 1, end - open - 2);
    std::string before = s->substr(0, p);
    while (!before.empty() && before.back() == ' ') before.pop_back();
    const bool after_value =
        !before.empty() && (std::isalnum(static_cast<unsigned char>(before.back())) ||
                            before.back() == '}' || before.back() == ')');
    size_t tail = end;
    if (after_value && IsUnitWord(inner)) {
      if (s->compare(tail, 2, "^2") == 0 || s->compare(tail, 2, "^3") == 0) tail += 2;
      s->replace(p, tail - p, "");
    } else {
      s->replace(p, end - p, inner);
    }
  }
}

// \frac12 -> \frac{1}{2}, \frac1{2} -> \frac{1}{2}, \sqrt2 -> \sqrt{2}.
void BraceShortArguments(std::string* s) {
  std::string out;
  for (size_t i = 0; i < s->size();) {
    auto starts = [&](std::string_view cmd) { return s->compare(i, cmd.size(), cmd) == 0; };
    if (starts("\\frac") || starts("\\sqrt")) {
      const bool frac = starts("\\frac");
      out += frac ? "\\frac" : "\\sqrt";
      i += 5;
      for (int arg = 0; arg < (frac ? 2 : 1) && i < s->size(); ++arg) {
        if ((*s)[i] == '{') {
          const size_t end = GroupEnd(*s, i);
          if (end == std::string::npos) break;
          out += s->substr(i, end - i);
          i = end;
        } else if ((*s)[i] == '[' && !frac) {  // \sqrt[n]{x}: keep the index
          const size_t close = s->find(']', i);
          if (close == std::string::npos) break;
          out += s->substr(i, close - i + 1);
          i = close + 1;
          --arg;
        } else if (std::isalnum(static_cast<unsigned char>((*s)[i]))) {
          out += '{';
          out += (*s)[i++];
          out += '}';
        } else {
          break;
        }
      }
      continue;
    }
    out += (*s)[i++];
  }
  *s = out;
}

// "2.500" -> "2.5", "3.0" -> "3", ".5" -> "0.5" for every decimal number in the text.
void TrimDecimals(std::string* s) {
  static const std::regex kDecimal(R"((\d*)\.(\d+))");
  std::string out;
  auto begin = std::sregex_iterator(s->begin(), s->end(), kDecimal);
  size_t last = 0;
  for (auto it = begin; it != std::sregex_iterator(); ++it) {
    const std::smatch& m = *it;
    out += s->substr(last, m.position() - last);
    std::string whole = m[1].str(), frac = m[2].str();
    while (!frac.empty() && frac.back() == '0') frac.pop_back();
    if (whole.empty()) whole = "0";
    out += frac.empty() ? whole : whole + "." + frac;
    last = m.position() + m.length();
  }
  out += s->substr(last);
  *s = out;
}

// "0.\overline{3}" -> "\frac{1}{3}", "1.2\overline{45}" -> "\frac{1233}{990}": a repeating
// decimal as the fraction it is (when the numbers fit in 64 bits).
void RepeatingDecimals(std::string* s) {
  static const std::regex kRepeating(R"((\d*)\.(\d*)\\overline\{(\d+)\})");
  if (s->find("\\overline") == std::string::npos) return;
  std::string out;
  size_t last = 0;
  for (auto it = std::sregex_iterator(s->begin(), s->end(), kRepeating);
       it != std::sregex_iterator(); ++it) {
    const std::smatch& m = *it;
    const std::string whole = m[1].str(), fixed = m[2].str(), rep = m[3].str();
    if (whole.size() + fixed.size() + rep.size() > 17) continue;
    auto pow10 = [](size_t n) {
      unsigned long long p = 1;
      for (size_t i = 0; i < n; ++i) p *= 10;
      return p;
    };
    // x = W.F(R): x * 10^|F| * (10^|R| - 1) = WFR - WF (as integers).
    const unsigned long long wfr = std::stoull("0" + whole + fixed + rep),
                             wf = std::stoull("0" + whole + fixed);
    const unsigned long long num = wfr - wf, den = pow10(fixed.size()) * (pow10(rep.size()) - 1);
    out += s->substr(last, m.position() - last);
    out += "\\frac{" + std::to_string(num) + "}{" + std::to_string(den) + "}";
    last = m.position() + m.length();
  }
  out += s->substr(last);
  *s = out;
}

}  // namespace

std::string UndoDoubledBackslashes(std::string_view text) {
  // Escaped twice: every run of backslashes has an even length, and some pair stands before
  // a command name or an escaped symbol ("\\frac", "\\!", "\\$"), not only before digits
  // (a matrix's "1\\2" row break is single-escaped text).
  bool command = false;
  for (size_t i = 0; i < text.size();) {
    if (text[i] != '\\') {
      ++i;
      continue;
    }
    size_t e = i;
    while (e < text.size() && text[e] == '\\') ++e;
    if ((e - i) % 2 != 0) return std::string(text);
    if (e < text.size()) {
      const char c = text[e];
      command |=
          std::isalpha(static_cast<unsigned char>(c)) || std::strchr("!,;:${}()[]%", c) != nullptr;
    }
    i = e;
  }
  if (!command) return std::string(text);
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    out += text[i];
    if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == '\\') ++i;
  }
  return out;
}

std::string NormalizeAnswer(std::string_view answer) {
  if (answer.size() > kMaxAnswerChars) return std::string(answer);
  std::string s = UndoDoubledBackslashes(answer);
  // Unicode symbols a model may write.
  for (auto [from, to] :
       std::vector<std::pair<std::string_view, std::string_view>>{{"\u2212", "-"},
                                                                  {"\u03c0", "\\pi "},
                                                                  {"\u00d7", "\\times "},
                                                                  {"\u00b7", "\\cdot "},
                                                                  {"\u221e", "\\infty "},
                                                                  {"\u221a", "\\sqrt"},
                                                                  {"\u00b0", "^\\circ"},
                                                                  {"\u2013", "-"},
                                                                  {"\u2264", "\\le "},
                                                                  {"\u2265", "\\ge "},
                                                                  {"\u2260", "\\neq "},
                                                                  {"\u2208", "\\in "},
                                                                  {"\u20ac", ""},
                                                                  {"\u00a3", ""},
                                                                  {"\u00a5", ""},
                                                                  {"\u00a0", " "},
                                                                  {"\u202f", " "}}) {
    ReplaceAll(&s, from, to);
  }
  ReplaceAll(&s, "\n", " ");
  ReplaceAll(&s, "\\$", "");
  ReplaceAll(&s, "$", "");
  // Math delimiters (the answer is math already); "\\[" between matrix rows is not one.
  for (std::string_view d : {"\\(", "\\)"}) ReplaceAll(&s, d, " ");
  for (std::string_view d : {"\\[", "\\]"}) {
    for (size_t p = 0; (p = s.find(d, p)) != std::string::npos;) {
      if (p > 0 && s[p - 1] == '\\') {
        p += d.size();
        continue;
      }
      s.replace(p, d.size(), " ");
    }
  }
  // Relations, ASCII: the longer command first (\leqslant, \leq, then \le).
  for (auto [cmd, to] :
       std::vector<std::pair<std::string_view, std::string_view>>{{"\\leqslant", "<="},
                                                                  {"\\geqslant", ">="},
                                                                  {"\\leq", "<="},
                                                                  {"\\geq", ">="},
                                                                  {"\\le", "<="},
                                                                  {"\\ge", ">="},
                                                                  {"\\lt", "<"},
                                                                  {"\\gt", ">"},
                                                                  {"\\neq", "!="},
                                                                  {"\\ne", "!="}}) {
    ReplaceCommand(&s, cmd, to);
  }
  ReplaceCommand(&s, "\\euro", "");
  ReplaceCommand(&s, "\\pounds", "");
  for (std::string_view cmd : {"\\displaystyle", "\\left", "\\right", "\\bigl", "\\bigr", "\\Bigl",
                               "\\Bigr", "\\big", "\\Big", "\\quad", "\\qquad"}) {
    RemoveCommand(&s, cmd);
  }
  // Spacing commands; "\\\\" (a matrix's row break) is kept aside while "\\ " goes.
  ReplaceAll(&s, "\\\\", "\x01");
  for (std::string_view sp : {"\\!", "\\,", "\\;", "\\:", "\\ ", "~"}) ReplaceAll(&s, sp, " ");
  ReplaceAll(&s, "\x01", "\\\\");
  ReplaceAll(&s, "\\dfrac", "\\frac");
  ReplaceAll(&s, "\\tfrac", "\\frac");
  for (std::string_view cmd :
       {"\\mbox{", "\\mathrm{", "\\textbf{", "\\textit{", "\\mathbf{", "\\textnormal{"}) {
    ReplaceAll(&s, cmd, "\\text{");
  }
  // Degrees, percent.
  for (std::string_view deg : {"^{\\circ}", "^\\circ", "{}^\\circ", "\\circ", "\\degree"})
    ReplaceAll(&s, deg, "");
  ReplaceAll(&s, "\\%", "");
  ReplaceAll(&s, "%", "");
  // Solutions listed with words or ';': "x=1 \\text{ or } x=2", "1 and 2", "3; 4".
  static const std::regex kConnector(R"((\\text\{\s*(or|and)\s*\})|(\s(or|and)\s)|;)",
                                     std::regex::icase);
  if (s.find(';') != std::string::npos || s.find("or") != std::string::npos ||
      s.find("and") != std::string::npos || s.find("OR") != std::string::npos) {
    s = std::regex_replace(s, kConnector, ",");
  }
  static const std::regex kPercentWord(R"((\d)\s*(percent|per cent)\b)", std::regex::icase);
  if (s.find("ercent") != std::string::npos || s.find("er cent") != std::string::npos) {
    s = std::regex_replace(s, kPercentWord, "$1");
  }
  ResolveText(&s);
  // Thousands separators written as "{,}".
  ReplaceAll(&s, "{,}", ",");
  // Trim, then a trailing period and a lone "var =" on the left.
  auto trim = [](std::string* t) {
    size_t b = 0, e = t->size();
    while (b < e && std::isspace(static_cast<unsigned char>((*t)[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>((*t)[e - 1]))) --e;
    *t = t->substr(b, e - b);
  };
  trim(&s);
  while (!s.empty() && (s.back() == '.' || s.back() == ',')) {
    s.pop_back();
    trim(&s);
  }
  while (!s.empty() && s.front() == ',') {
    s.erase(0, 1);
    trim(&s);
  }
  BraceShortArguments(&s);
  RepeatingDecimals(&s);
  // Whitespace carries no meaning once commands are resolved ("\\pi r" keeps a space
  // only inside a command name, which RemoveCommand kept whole).
  std::string compact;
  for (size_t i = 0; i < s.size(); ++i) {
    if (std::isspace(static_cast<unsigned char>(s[i]))) {
      // Keep one space where it separates a command from a following letter: "\\pi r".
      if (!compact.empty() && std::isalpha(static_cast<unsigned char>(compact.back())) &&
          i + 1 < s.size() && std::isalpha(static_cast<unsigned char>(s[i + 1]))) {
        size_t k = compact.size();
        while (k > 0 && std::isalpha(static_cast<unsigned char>(compact[k - 1]))) --k;
        if (k > 0 && compact[k - 1] == '\\') compact += ' ';
      }
      continue;
    }
    compact += s[i];
  }
  s = compact;
  // Thousands separators: the whole answer is a number written with them.
  static const std::regex kThousands(R"(^-?[1-9]\d{0,2}(,\d{3})+(\.\d+)?$)");
  // A decimal comma where a thousands separator or a two-item list cannot be meant:
  // "0,111" (no group starts a number with 0) and "1000,99" (four digits before it).
  static const std::regex kDecimalComma(R"(^-?(0|\d{4,}),\d+$)");
  if (std::regex_match(s, kThousands)) {
    ReplaceAll(&s, ",", "");
  } else if (s.find(',') != std::string::npos && std::regex_match(s, kDecimalComma)) {
    ReplaceAll(&s, ",", ".");
  }
  TrimDecimals(&s);
  if (s.size() > 1 && s[0] == '+') s.erase(0, 1);
  return s;
}

bool ParsePlainNumber(std::string_view s, double* value) {
  static const std::regex kNumber(R"(^(-?\d+(\.\d+)?)(/(\d+(\.\d+)?))?$)");
  static const std::regex kFrac(R"(^(-?)\\frac\{(-?\d+(\.\d+)?)\}\{(\d+(\.\d+)?)\}$)");
  std::string str(s);
  std::smatch m;
  if (std::regex_match(str, m, kNumber)) {
    double v = std::strtod(m[1].str().c_str(), nullptr);
    if (m[4].matched) {
      const double d = std::strtod(m[4].str().c_str(), nullptr);
      if (d == 0) return false;
      v /= d;
    }
    *value = v;
    return true;
  }
  if (std::regex_match(str, m, kFrac)) {
    const double d = std::strtod(m[4].str().c_str(), nullptr);
    if (d == 0) return false;
    *value = (m[1].str() == "-" ? -1 : 1) * std::strtod(m[2].str().c_str(), nullptr) / d;
    return true;
  }
  return false;
}

char ChoiceLetter(std::string_view answer) {
  std::string s = NormalizeAnswer(answer);
  // "(C) 12", "(C)\\text{ 12 apples}": the option's letter, then its content.
  if (s.size() > 3 && s[0] == '(' && s[1] >= 'A' && s[1] <= 'E' && s[2] == ')') return s[1];
  std::string letters;
  for (char c : s) {
    if (c == '(' || c == ')' || c == '.' || c == ':') continue;
    letters += c;
  }
  if (letters.size() == 1 && letters[0] >= 'A' && letters[0] <= 'E') return letters[0];
  if (letters.size() == 1 && letters[0] >= 'a' && letters[0] <= 'e' &&
      s.find('(') != std::string::npos) {
    return static_cast<char>(letters[0] - 'a' + 'A');
  }
  return 0;
}

}  // namespace r1rl::reward
