#include "lib/rewards/math_equivalence.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>
#include <regex>
#include <vector>

#include "lib/rewards/answer_extraction.h"
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

Structure Parse(const std::string& text) {
  Structure st;
  // "[\begin{matrix}…\end{matrix}]" (from \left[ … \right]) is the matrix itself.
  std::string s = text;
  if (s.size() > 9 && (s[0] == '(' || s[0] == '[') && s.compare(1, 7, "\\begin{") == 0 &&
      (s.back() == ')' || s.back() == ']') && s[s.size() - 2] == '}' &&
      s.rfind("\\end{") != std::string::npos) {
    s = s.substr(1, s.size() - 2);
  }
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
  // "{1,2}": a set written without its backslashes.
  if (s.size() >= 2 && s[0] == '{' && s.back() == '}' && s.find('}') == s.size() - 1) {
    if (std::vector<std::string> parts = SplitTopLevel(s.substr(1, s.size() - 2), ",");
        parts.size() > 1) {
      st.kind = Structure::kUnordered;
      st.items = parts;
      return st;
    }
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

bool SameIgnoringCase(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// A chain of relations at the top level (outside brackets): "0<x<=1" -> sides {0, x, 1},
// ops {"<", "<="}. Ops: "=", "<", ">", "<=", ">=", "!=". A list ("x=1,x=2") has none.
struct Relation {
  std::vector<std::string> sides;
  std::vector<std::string> ops;
  bool AllEqualities() const {
    return !ops.empty() && std::all_of(ops.begin(), ops.end(), [](auto& o) { return o == "="; });
  }
  bool HasInequality() const { return !ops.empty() && !AllEqualities(); }
};

Relation SplitRelation(const std::string& s) {
  Relation r;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\\' && i + 1 < s.size()) {
      if (s[i + 1] == '{') ++depth;
      if (s[i + 1] == '}') --depth;
      ++i;
      continue;
    }
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    if (depth != 0) continue;
    if (c == ',') return Relation{{s}, {}};  // a list: its items may be relations, not it
    std::string op;
    if ((c == '<' || c == '>' || c == '!') && i + 1 < s.size() && s[i + 1] == '=') {
      op = std::string(1, c) + "=";
    } else if (c == '<' || c == '>' || c == '=') {
      op = std::string(1, c);
    }
    if (op.empty()) continue;
    r.sides.push_back(s.substr(start, i - start));
    r.ops.push_back(op);
    i += op.size() - 1;
    start = i + 1;
  }
  r.sides.push_back(s.substr(start));
  return r;
}

// A name a value is given to: "x", "a_1", "x_{12}", "\theta", "f(x)", "P(3)" is not one.
bool IsName(const std::string& s) {
  static const std::regex kName(
      R"(^([a-zA-Z]|\\[a-zA-Z]+)(_\{?\w+\}?|')*(\([a-zA-Z](,[a-zA-Z])*\))?$)");
  return std::regex_match(s, kName);
}

// "x=3" -> "3", "(p,q,r)=(3,2,7)" -> "(3,2,7)", "f(x)=2x" -> "2x": the value of an
// assignment to a name or a tuple of names; nullopt for anything else.
std::optional<std::string> AssignedValue(const std::string& s) {
  const Relation r = SplitRelation(s);
  if (r.ops.size() != 1 || r.ops[0] != "=" || r.sides[1].empty()) return std::nullopt;
  const std::string& lhs = r.sides[0];
  if (IsName(lhs)) return r.sides[1];
  if (WhollyBracketed(lhs) && lhs[0] == '(') {
    for (const std::string& item : SplitTopLevel(lhs.substr(1, lhs.size() - 2), ",")) {
      if (!IsName(item)) return std::nullopt;
    }
    return r.sides[1];
  }
  return std::nullopt;
}

// A constant: no letters once commands (\pi, \sqrt, \frac, \infty) are set aside.
bool IsConstant(const std::string& s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\') {
      while (i + 1 < s.size() && std::isalpha(static_cast<unsigned char>(s[i + 1]))) ++i;
      continue;
    }
    if (std::isalpha(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

// An inequality in one unknown as the interval it describes: "x<=3" -> "(-\infty,3]",
// "0<f(x)<1" -> "(0,1)", "x>-1" -> "(-1,\infty)". Also sets *unknown ("x", "f(x)").
std::optional<std::string> RelationToInterval(const Relation& r, std::string* unknown) {
  auto less = [](const std::string& op) { return op == "<" || op == "<="; };
  auto greater = [](const std::string& op) { return op == ">" || op == ">="; };
  auto strict = [](const std::string& op) { return op == "<" || op == ">"; };
  if (r.ops.size() == 1 && (less(r.ops[0]) || greater(r.ops[0]))) {
    std::string op = r.ops[0], var = r.sides[0], bound = r.sides[1];
    if (IsConstant(var) && !IsConstant(bound)) {  // "3>x": read as "x<3"
      std::swap(var, bound);
      op = less(op) ? (strict(op) ? ">" : ">=") : (strict(op) ? "<" : "<=");
    }
    if (IsConstant(var) || !IsConstant(bound)) return std::nullopt;
    *unknown = var;
    if (less(op)) return "(-\\infty," + bound + (strict(op) ? ")" : "]");
    return (strict(op) ? "(" : "[") + bound + ",\\infty)";
  }
  if (r.ops.size() == 2) {
    std::string lo = r.sides[0], hi = r.sides[2], op_lo = r.ops[0], op_hi = r.ops[1];
    if (greater(op_lo) && greater(op_hi)) {
      std::swap(lo, hi);
      std::swap(op_lo, op_hi);
    } else if (!(less(op_lo) && less(op_hi))) {
      return std::nullopt;
    }
    if (!IsConstant(lo) || !IsConstant(hi) || IsConstant(r.sides[1])) return std::nullopt;
    *unknown = r.sides[1];
    return (strict(op_lo) ? "(" : "[") + lo + "," + hi + (strict(op_hi) ? ")" : "]");
  }
  return std::nullopt;
}

// "x\in[-2,7]" -> "[-2,7]": membership in a set or interval says the set.
std::string StripMembership(const std::string& s) {
  for (size_t p = s.find("\\in"); p != std::string::npos; p = s.find("\\in", p + 1)) {
    const size_t after = p + 3;
    if (after < s.size() && std::isalpha(static_cast<unsigned char>(s[after]))) continue;  // \infty
    const std::string lhs = s.substr(0, p);
    if (IsName(lhs) || (WhollyBracketed(lhs) && lhs[0] == '(')) return s.substr(after);
  }
  return s;
}

// "1\pm\sqrt{2}" -> "1+\sqrt{2},1-\sqrt{2}": a lone ± as the two values it stands for.
std::optional<std::string> ExpandPlusMinus(const std::string& s) {
  const size_t p = s.find("\\pm");
  if (p == std::string::npos || s.find("\\pm", p + 3) != std::string::npos) return std::nullopt;
  if (p + 3 < s.size() && std::isalpha(static_cast<unsigned char>(s[p + 3]))) return std::nullopt;
  if (SplitTopLevel(s, ",").size() > 1) return std::nullopt;
  const std::string before = s.substr(0, p), after = s.substr(p + 3);
  return before + "+" + after + "," + before + "-" + after;
}

}  // namespace

MathJudgement MathJudge::Judge(std::string_view reference, std::string_view predicted) const {
  // Both sides may carry delimiters, boxes or a sentence around the answer.
  const std::string ref = FinalAnswerInText(reference, /*read_sentences=*/false),
                    pred = FinalAnswerInText(predicted);
  if (ref.size() > kMaxAnswerChars || pred.size() > kMaxAnswerChars) return {false, "too_long"};
  std::string a = NormalizeAnswer(ref), b = NormalizeAnswer(pred);
  if (b.empty()) return {false, "empty"};
  if (a == b) return {true, "string"};
  if (const char letter = ChoiceLetter(ref)) {
    const char got = ChoiceLetter(pred);
    return {got == letter, got == letter ? "choice" : "different"};
  }
  a = StripMembership(a);
  b = StripMembership(b);
  // "x = 5+5+1 = 11": a chain of equalities says its last side.
  for (std::string* side : {&a, &b}) {
    const Relation r = SplitRelation(*side);
    if (r.ops.size() >= 2 && r.AllEqualities() && !r.sides.back().empty()) *side = r.sides.back();
  }
  // "(p,q,r)=(3,2,7)" against "(3,2,7)": the value given to the names.
  const Relation ra = SplitRelation(a), rb = SplitRelation(b);
  if (ra.ops.empty() && !rb.ops.empty()) {
    if (auto v = AssignedValue(b)) b = *v;
  } else if (rb.ops.empty() && !ra.ops.empty()) {
    if (auto v = AssignedValue(a)) a = *v;
  }
  if (a == b) return {true, "string"};
  // "x = \pm 2" against "2, -2": the ± written out, when the other side is a list.
  if (SplitTopLevel(a, ",").size() > 1 || SplitTopLevel(b, ",").size() > 1) {
    if (auto e = ExpandPlusMinus(a)) a = *e;
    if (auto e = ExpandPlusMinus(b)) b = *e;
  }
  return Structured(a, b);
}

MathJudgement MathJudge::Structured(const std::string& a, const std::string& b) const {
  // An inequality against an interval (or a union of them): the interval it describes.
  const Relation ra = SplitRelation(a), rb = SplitRelation(b);
  if (ra.HasInequality() != rb.HasInequality()) {
    std::string unknown;
    const std::optional<std::string> interval =
        RelationToInterval(ra.HasInequality() ? ra : rb, &unknown);
    if (!interval) return {false, "different"};
    return ra.HasInequality() ? Structured(*interval, b) : Structured(a, *interval);
  }
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
    // Two decimals written to the same places must be equal exactly: 28800 is not 28801 and
    // 1000.99 is not 1000.98, however close relatively (normalised: no trailing zeros).
    static const std::regex kDecimal(R"(^-?\d+(\.(\d+))?$)");
    std::smatch ma, mb;
    if (std::regex_match(a, ma, kDecimal) && std::regex_match(b, mb, kDecimal) &&
        ma[2].length() == mb[2].length()) {
      return {a == b || va == vb, a == b || va == vb ? "numeric" : "different"};
    }
    const bool eq = std::abs(va - vb) <=
                    options_.relative_tolerance * std::max({1.0, std::abs(va), std::abs(vb)});
    return {eq, eq ? "numeric" : "different"};
  }
  const Relation ra = SplitRelation(a), rb = SplitRelation(b);
  if (ra.HasInequality() || rb.HasInequality()) return Relations(a, b);
  const size_t ea = ra.ops.size(), eb = rb.ops.size();
  CasQuery q;
  if (ea == 1 && eb == 1) {
    auto la = LatexToCas(ra.sides[0]), ca = LatexToCas(ra.sides[1]);
    auto lb = LatexToCas(rb.sides[0]), cb = LatexToCas(rb.sides[1]);
    if (!la || !ca || !lb || !cb) return {false, "different"};
    q = {CasMode::kEquation, "(" + *la + ")-(" + *ca + ")", "(" + *lb + ")-(" + *cb + ")"};
  } else if (ea == 0 && eb == 0) {
    auto ca = LatexToCas(a), cb = LatexToCas(b);
    if (!ca || !cb) return {false, "different"};
    q = {CasMode::kExpression, *ca, *cb};
  } else if (ea + eb == 1) {
    // "x = 3" against "3": the value given to a name.
    const std::optional<std::string> value = AssignedValue(ea == 1 ? a : b);
    if (!value) return {false, "different"};
    return ea == 1 ? Structured(*value, b) : Structured(a, *value);
  } else {
    return {false, "different"};
  }
  const CasVerdict v = cas_->Compare(q, options_.cas_timeout);
  if (v == CasVerdict::kEqual) return {true, "cas"};
  return {false, v == CasVerdict::kTimeout ? "cas_timeout" : "different"};
}

}  // namespace r1rl::reward

namespace r1rl::reward {

MathJudgement MathJudge::Relations(const std::string& a, const std::string& b) const {
  const Relation ra = SplitRelation(a), rb = SplitRelation(b);
  if (ra.ops.size() != rb.ops.size()) return {false, "different"};
  if (ra.ops.size() == 2) {  // "0<x<1" against "1>x>0": the same interval of the same unknown
    std::string ua, ub;
    const auto ia = RelationToInterval(ra, &ua), ib = RelationToInterval(rb, &ub);
    if (!ia || !ib || ua != ub) return {false, "different"};
    return Structured(*ia, *ib);
  }
  if (ra.ops.size() != 1) return {false, "different"};
  // One relation each, as "lhs < rhs" (or <=, !=, =): "x<1" and "-x>-1" are the same when
  // rhs - lhs of one is a positive multiple of the other's (any nonzero multiple for != ).
  auto canonical = [](const Relation& r, std::string* op, std::string* lhs, std::string* rhs) {
    *op = r.ops[0];
    *lhs = r.sides[0];
    *rhs = r.sides[1];
    if (*op == ">" || *op == ">=") {
      std::swap(*lhs, *rhs);
      *op = *op == ">" ? "<" : "<=";
    }
  };
  std::string opa, la, ca, opb, lb, cb;
  canonical(ra, &opa, &la, &ca);
  canonical(rb, &opb, &lb, &cb);
  if (opa != opb) return {false, "different"};
  auto xla = LatexToCas(la), xca = LatexToCas(ca), xlb = LatexToCas(lb), xcb = LatexToCas(cb);
  if (!xla || !xca || !xlb || !xcb) {
    // \infty and the like: the same text on both sides, or nothing.
    const bool same = la == lb && ca == cb;
    return {same, same ? "string" : "different"};
  }
  const CasQuery q{opa == "!=" || opa == "=" ? CasMode::kEquation : CasMode::kInequality,
                   "(" + *xca + ")-(" + *xla + ")", "(" + *xcb + ")-(" + *xlb + ")"};
  const CasVerdict v = cas_->Compare(q, options_.cas_timeout);
  if (v == CasVerdict::kEqual) return {true, "cas"};
  return {false, v == CasVerdict::kTimeout ? "cas_timeout" : "different"};
}

}  // namespace r1rl::reward
