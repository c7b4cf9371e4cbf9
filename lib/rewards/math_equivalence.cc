#include "lib/rewards/math_equivalence.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>
#include <regex>
#include <vector>

#include "lib/rewards/latex_normalize.h"
#include "lib/rewards/latex_to_cas.h"

namespace r1rl::reward {
namespace {

// Splits on `sep` outside (), [], {} groups.
std::vector<std::string> SplitTopLevel(const std::string& s, std::string_view sep) {
  std::vector<std::string> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\\' && i + 1 < s.size() && (s[i + 1] == '{' || s[i + 1] == '}')) {
      depth += s[i + 1] == '{' ? 1 : -1;
      ++i;
      continue;
    }
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    if (depth == 0 && s.compare(i, sep.size(), sep) == 0) {
      parts.push_back(s.substr(start, i - start));
      start = i + sep.size();
      i += sep.size() - 1;
    }
  }
  parts.push_back(s.substr(start));
  return parts;
}

// Whether the bracket opening at 0 closes at the last character.
bool WhollyBracketed(const std::string& s) {
  if (s.size() < 2 || (s[0] != '(' && s[0] != '[') || (s.back() != ')' && s.back() != ']'))
    return false;
  int depth = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '(' || s[i] == '[' || s[i] == '{') ++depth;
    if (s[i] == ')' || s[i] == ']' || s[i] == '}') --depth;
    if (depth == 0 && i + 1 < s.size()) return false;
  }
  return true;
}

struct Structure {
  enum Kind { kScalar, kOrdered, kUnordered, kMatrix } kind = kScalar;
  char open = 0, close = 0;  // kOrdered: the brackets ("(1,2]" is an interval)
  std::vector<std::string> items;
  size_t columns = 0;  // kMatrix
};

Structure Parse(const std::string& s) {
  Structure st;
  for (std::string_view env : {"pmatrix", "bmatrix", "matrix", "vmatrix"}) {
    const std::string begin = "\\begin{" + std::string(env) + "}",
                      end = "\\end{" + std::string(env) + "}";
    if (s.rfind(begin, 0) == 0 && s.size() > begin.size() + end.size() &&
        s.compare(s.size() - end.size(), end.size(), end) == 0) {
      st.kind = Structure::kMatrix;
      const std::string body = s.substr(begin.size(), s.size() - begin.size() - end.size());
      for (const std::string& row : SplitTopLevel(body, "\\\\")) {
        if (row.empty()) continue;
        std::vector<std::string> cells = SplitTopLevel(row, "&");
        if (st.columns == 0) st.columns = cells.size();
        if (cells.size() != st.columns) st.columns = static_cast<size_t>(-1);
        st.items.insert(st.items.end(), cells.begin(), cells.end());
      }
      return st;
    }
  }
  if (s.size() >= 4 && s.rfind("\\{", 0) == 0 && s.compare(s.size() - 2, 2, "\\}") == 0) {
    st.kind = Structure::kUnordered;
    st.items = SplitTopLevel(s.substr(2, s.size() - 4), ",");
    return st;
  }
  if (std::vector<std::string> parts = SplitTopLevel(s, "\\cup"); parts.size() > 1) {
    st.kind = Structure::kUnordered;
    st.items = parts;
    return st;
  }
  if (WhollyBracketed(s)) {
    std::vector<std::string> parts = SplitTopLevel(s.substr(1, s.size() - 2), ",");
    if (parts.size() > 1) {
      st.kind = Structure::kOrdered;
      st.open = s[0];
      st.close = s.back();
      st.items = parts;
      return st;
    }
  }
  if (std::vector<std::string> parts = SplitTopLevel(s, ","); parts.size() > 1) {
    st.kind = Structure::kUnordered;
    st.items = parts;
    return st;
  }
  st.items = {s};
  return st;
}

// "x=3" -> "3" (one variable, possibly subscripted, on the left of the only '=').
std::optional<std::string> LoneVariableValue(const std::string& s) {
  static const std::regex kLone(R"(^[a-zA-Z](_\{?\w+\}?)?=([^=]+)$)");
  std::smatch m;
  if (std::regex_match(s, m, kLone)) return m[2].str();
  return std::nullopt;
}

bool SameIgnoringCase(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

MathJudgement MathJudge::Judge(std::string_view reference, std::string_view predicted) const {
  const std::string a = NormalizeAnswer(reference), b = NormalizeAnswer(predicted);
  if (b.empty()) return {false, "empty"};
  if (a == b) return {true, "string"};
  if (const char letter = ChoiceLetter(reference)) {
    return {ChoiceLetter(predicted) == letter,
            ChoiceLetter(predicted) == letter ? "choice" : "different"};
  }
  return Structured(a, b);
}

MathJudgement MathJudge::Structured(const std::string& a, const std::string& b) const {
  Structure x = Parse(a), y = Parse(b);
  if (x.kind == Structure::kScalar && y.kind == Structure::kScalar) return Scalar(a, b);
  // A bare list against a bracketed one ("1, 2" vs "(1, 2)" or "\{1, 2\}"): compare the items.
  if (x.kind != y.kind) {
    if (x.kind == Structure::kUnordered && y.kind == Structure::kOrdered)
      y.kind = Structure::kUnordered;
    if (y.kind == Structure::kUnordered && x.kind == Structure::kOrdered)
      x.kind = Structure::kUnordered;
  }
  if (x.kind != y.kind || x.items.size() != y.items.size()) return {false, "different"};
  if (x.kind == Structure::kMatrix && x.columns != y.columns) return {false, "different"};
  bool timed_out = false;
  auto same = [&](const std::string& p, const std::string& q) {
    MathJudgement j = Structured(p, q);
    timed_out |= j.how == "cas_timeout";
    return j.equivalent;
  };
  if (x.kind == Structure::kOrdered || x.kind == Structure::kMatrix) {
    if (x.open != y.open || x.close != y.close) return {false, "different"};
    for (size_t i = 0; i < x.items.size(); ++i) {
      if (!same(x.items[i], y.items[i])) return {false, timed_out ? "cas_timeout" : "different"};
    }
    return {true, "structure"};
  }
  // Unordered: a perfect matching, found greedily (items of an answer are distinct).
  std::vector<bool> used(y.items.size(), false);
  for (const std::string& p : x.items) {
    bool found = false;
    for (size_t k = 0; k < y.items.size() && !found; ++k) {
      if (!used[k] && same(p, y.items[k])) used[k] = found = true;
    }
    if (!found) return {false, timed_out ? "cas_timeout" : "different"};
  }
  return {true, "structure"};
}

MathJudgement MathJudge::Scalar(const std::string& a, const std::string& b) const {
  if (a == b || SameIgnoringCase(a, b)) return {true, "string"};
  double va = 0, vb = 0;
  if (ParsePlainNumber(a, &va) && ParsePlainNumber(b, &vb)) {
    // Two integers must be equal exactly (28800 is not 28801, however close relatively).
    static const std::regex kInteger(R"(^-?\d+$)");
    if (std::regex_match(a, kInteger) && std::regex_match(b, kInteger)) {
      return {a == b || va == vb, a == b || va == vb ? "numeric" : "different"};
    }
    const bool eq = std::abs(va - vb) <=
                    options_.relative_tolerance * std::max({1.0, std::abs(va), std::abs(vb)});
    return {eq, eq ? "numeric" : "different"};
  }
  const size_t ea = std::count(a.begin(), a.end(), '='), eb = std::count(b.begin(), b.end(), '=');
  CasQuery q;
  if (ea == 1 && eb == 1) {
    const size_t pa = a.find('='), pb = b.find('=');
    auto la = LatexToCas(a.substr(0, pa)), ra = LatexToCas(a.substr(pa + 1));
    auto lb = LatexToCas(b.substr(0, pb)), rb = LatexToCas(b.substr(pb + 1));
    if (!la || !ra || !lb || !rb) return {false, "different"};
    q = {CasMode::kEquation, "(" + *la + ")-(" + *ra + ")", "(" + *lb + ")-(" + *rb + ")"};
  } else if (ea == 0 && eb == 0) {
    auto ca = LatexToCas(a), cb = LatexToCas(b);
    if (!ca || !cb) return {false, "different"};
    q = {CasMode::kExpression, *ca, *cb};
  } else {
    // "x = 3" against "3": the value of a lone variable.
    const std::optional<std::string> value = LoneVariableValue(ea == 1 ? a : b);
    if (!value) return {false, "different"};
    return ea == 1 ? Scalar(*value, b) : Scalar(a, *value);
  }
  const CasVerdict v = cas_->Compare(q, options_.cas_timeout);
  if (v == CasVerdict::kEqual) return {true, "cas"};
  return {false, v == CasVerdict::kTimeout ? "cas_timeout" : "different"};
}

}  // namespace r1rl::reward
