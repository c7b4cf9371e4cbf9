#include "lib/rewards/latex_to_cas.h"

#include <cctype>
#include <map>

namespace r1rl::reward {
namespace {

// A recursive-descent translator. Tokens are emitted with an explicit '*' wherever LaTeX
// multiplies by juxtaposition (2x, 3\sqrt{2}, (a)(b), x y).
class Translator {
 public:
  explicit Translator(std::string_view s) : s_(s) {}

  // Translates s_[pos_, end) into out; false when something is not translatable.
  bool Run(size_t end, std::string* out) {
    bool prev_operand = false;  // the last thing emitted ends an operand
    auto operand = [&](const std::string& text) {
      if (prev_operand) *out += '*';
      *out += text;
      prev_operand = true;
    };
    while (pos_ < end) {
      const char c = s_[pos_];
      if (std::isspace(static_cast<unsigned char>(c))) {
        ++pos_;
      } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') {
        operand(Number(end));
      } else if (std::isalpha(static_cast<unsigned char>(c))) {
        ++pos_;
        std::string name(1, c);
        if (pos_ < end && s_[pos_] == '_') {  // a_1, a_{12}
          ++pos_;
          std::string sub;
          if (!Argument(end, &sub, /*raw=*/true)) return false;
          for (char k : sub) {
            if (!std::isalnum(static_cast<unsigned char>(k))) return false;
          }
          name += "_" + sub;
        }
        operand(name == "i" ? "I" : name);
      } else if (c == '\\') {
        std::string text;
        if (!Command(end, &text, &prev_operand, out)) return false;
        if (!text.empty()) operand(text);
      } else if (c == '{' || c == '(' || c == '[') {
        const char close = c == '{' ? '}' : c == '(' ? ')' : ']';
        const size_t match = Match(pos_, end, c, close);
        if (match == std::string_view::npos) return false;
        ++pos_;
        std::string inner;
        if (!Run(match, &inner)) return false;
        pos_ = match + 1;
        operand("(" + inner + ")");
      } else if (c == '+' || c == '-' || c == '*' || c == '/') {
        *out += c;
        ++pos_;
        prev_operand = false;
      } else if (c == '^') {
        ++pos_;
        std::string power;
        if (!Argument(end, &power, /*raw=*/false)) return false;
        *out += "^(" + power + ")";
        prev_operand = true;
      } else {
        return false;  // ',', '=', '<', '!', '|', …
      }
    }
    return true;
  }

 private:
  // Digits with at most one '.', as an exact rational.
  std::string Number(size_t end) {
    std::string whole, frac;
    bool dot = false;
    while (pos_ < end &&
           (std::isdigit(static_cast<unsigned char>(s_[pos_])) || (s_[pos_] == '.' && !dot))) {
      if (s_[pos_] == '.') {
        dot = true;
      } else {
        (dot ? frac : whole) += s_[pos_];
      }
      ++pos_;
    }
    if (whole.empty()) whole = "0";
    if (frac.empty()) return whole;
    return "(" + whole + frac + "/1" + std::string(frac.size(), '0') + ")";
  }

  size_t Match(size_t open, size_t end, char o, char c) const {
    int depth = 0;
    for (size_t i = open; i < end; ++i) {
      if (s_[i] == o) ++depth;
      if (s_[i] == c && --depth == 0) return i;
    }
    return std::string_view::npos;
  }

  // One argument: a brace group or a single character/command. raw: copy it untranslated.
  bool Argument(size_t end, std::string* out, bool raw) {
    while (pos_ < end && s_[pos_] == ' ') ++pos_;
    if (pos_ >= end) return false;
    if (s_[pos_] == '{') {
      const size_t match = Match(pos_, end, '{', '}');
      if (match == std::string_view::npos) return false;
      ++pos_;
      bool ok = true;
      if (raw) {
        *out = std::string(s_.substr(pos_, match - pos_));
      } else {
        ok = Run(match, out);
      }
      pos_ = match + 1;
      return ok && !out->empty();
    }
    if (s_[pos_] == '\\' && !raw) {
      bool prev = false;
      std::string text;
      if (!Command(end, &text, &prev, out)) return false;
      *out += text;
      return !out->empty();
    }
    if (raw) {
      *out = std::string(1, s_[pos_++]);
      return true;
    }
    const size_t one = pos_ + 1;
    return Run(one, out) && !out->empty();
  }

  // A command at pos_ ('\\'). Sets *text to an operand, or writes an operator to out.
  bool Command(size_t end, std::string* text, bool* prev_operand, std::string* out) {
    ++pos_;
    size_t b = pos_;
    while (pos_ < end && std::isalpha(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    const std::string name(s_.substr(b, pos_ - b));
    static const std::map<std::string, std::string> kFunctions = {
        {"sin", "sin"},     {"cos", "cos"},   {"tan", "tan"},     {"ln", "log"},
        {"log", "log"},     {"exp", "exp"},   {"arcsin", "asin"}, {"arccos", "acos"},
        {"arctan", "atan"}, {"sec", "1/cos"}, {"csc", "1/sin"},   {"cot", "1/tan"}};
    if (name == "frac") {
      std::string num, den;
      if (!Argument(end, &num, false) || !Argument(end, &den, false)) return false;
      *text = "((" + num + ")/(" + den + "))";
    } else if (name == "sqrt") {
      std::string index = "2";
      if (pos_ < end && s_[pos_] == '[') {
        const size_t close = Match(pos_, end, '[', ']');
        if (close == std::string_view::npos) return false;
        ++pos_;
        index.clear();
        if (!Run(close, &index)) return false;
        pos_ = close + 1;
      }
      std::string arg;
      if (!Argument(end, &arg, false)) return false;
      *text = index == "2" ? "sqrt(" + arg + ")" : "(" + arg + ")^(1/(" + index + "))";
    } else if (name == "pi") {
      *text = "Pi";
    } else if (name == "cdot" || name == "times" || name == "ast") {
      *out += '*';
      *prev_operand = false;
    } else if (name == "div") {
      *out += '/';
      *prev_operand = false;
    } else if (name == "text") {  // leftover text: a word is not math
      return false;
    } else if (auto f = kFunctions.find(name); f != kFunctions.end()) {
      std::string arg;
      while (pos_ < end && s_[pos_] == ' ') ++pos_;
      if (pos_ < end && s_[pos_] == '^') return false;  // \sin^2 x: not worth guessing
      if (pos_ < end && s_[pos_] == '(') {
        const size_t match = Match(pos_, end, '(', ')');
        if (match == std::string_view::npos) return false;
        ++pos_;
        if (!Run(match, &arg)) return false;
        pos_ = match + 1;
      } else if (!Argument(end, &arg, false)) {
        return false;
      }
      *text = f->second + "(" + arg + ")";
    } else {
      return false;  // \infty, \cup, \le, unknown commands
    }
    return true;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

std::optional<std::string> LatexToCas(std::string_view latex) {
  if (latex.empty()) return std::nullopt;
  Translator t(latex);
  std::string out;
  if (!t.Run(latex.size(), &out) || out.empty()) return std::nullopt;
  return out;
}

}  // namespace r1rl::reward
