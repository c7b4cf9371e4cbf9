#include "lib/tokenizer/pre_tokenizer.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/status/status_macros.h"
#include "lib/tokenizer/byte_level.h"
#include "lib/tokenizer/utf8.h"

namespace r1rl::tokenizer {
namespace {

struct Span {
  size_t start;
  size_t end;
  bool is_match;
};

// The whole of `text` as alternating gap / match spans (Hugging Face's find_matches).
std::vector<Span> MatchSpans(const Regex& regex, std::string_view text) {
  std::vector<Span> spans;
  size_t prev = 0;
  for (const auto& [start, end] : regex.FindAll(text)) {
    if (prev != start) spans.push_back({prev, start, false});
    spans.push_back({start, end, true});
    prev = end;
  }
  if (prev != text.size()) spans.push_back({prev, text.size(), false});
  return spans;
}

// Folds match spans into their neighbours per `behavior` (Hugging Face's
// NormalizedString::split); the result's spans are all kept unless `behavior` is kRemoved.
std::vector<Span> ApplyBehavior(std::vector<Span> spans, SplitBehavior behavior) {
  std::vector<Span> out;
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::kIsolated:
      return spans;
    case SplitBehavior::kRemoved:
      for (const Span& s : spans) {
        if (!s.is_match) out.push_back(s);
      }
      return out;
    case SplitBehavior::kMergedWithPrevious:
      for (const Span& s : spans) {
        if (s.is_match && !previous_match && !out.empty()) {
          out.back().end = s.end;
        } else {
          out.push_back({s.start, s.end, false});
        }
        previous_match = s.is_match;
      }
      return out;
    case SplitBehavior::kMergedWithNext:
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->is_match && !previous_match && !out.empty()) {
          out.back().start = it->start;
        } else {
          out.push_back({it->start, it->end, false});
        }
        previous_match = it->is_match;
      }
      return {out.rbegin(), out.rend()};
    case SplitBehavior::kContiguous:
      for (const Span& s : spans) {
        if (s.is_match == previous_match && !out.empty()) {
          out.back().end = s.end;
        } else {
          out.push_back({s.start, s.end, false});
        }
        previous_match = s.is_match;
      }
      return out;
  }
  return spans;
}

class SplitPreTokenizer : public PreTokenizer {
 public:
  SplitPreTokenizer(std::unique_ptr<Regex> regex, SplitBehavior behavior, bool invert)
      : regex_(std::move(regex)), behavior_(behavior), invert_(invert) {}

  void Apply(std::vector<std::string>* pieces) const override {
    std::vector<std::string> out;
    out.reserve(pieces->size() * 4);
    for (const std::string& piece : *pieces) {
      for (std::string& s : SplitWithRegex(*regex_, behavior_, invert_, piece)) {
        out.push_back(std::move(s));
      }
    }
    *pieces = std::move(out);
  }

 private:
  std::unique_ptr<Regex> regex_;
  SplitBehavior behavior_;
  bool invert_;
};

class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(ByteLevelOptions options, std::unique_ptr<Regex> regex)
      : options_(options), regex_(std::move(regex)) {}

  void Apply(std::vector<std::string>* pieces) const override {
    std::vector<std::string> split;
    split.reserve(pieces->size() * 4);
    for (std::string& piece : *pieces) {
      if (options_.add_prefix_space && (piece.empty() || piece[0] != ' ')) {
        piece.insert(piece.begin(), ' ');
      }
      if (regex_ == nullptr) {
        split.push_back(std::move(piece));
        continue;
      }
      for (std::string& s : SplitWithRegex(*regex_, SplitBehavior::kIsolated, false, piece)) {
        split.push_back(std::move(s));
      }
    }
    pieces->clear();
    for (const std::string& s : split) {
      if (s.empty()) continue;
      std::string mapped;
      mapped.reserve(s.size() * 2);
      AppendByteLevel(s, &mapped);
      pieces->push_back(std::move(mapped));
    }
  }

 private:
  ByteLevelOptions options_;
  std::unique_ptr<Regex> regex_;  // null when !use_regex
};

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps)
      : steps_(std::move(steps)) {}
  void Apply(std::vector<std::string>* pieces) const override {
    for (const auto& step : steps_) step->Apply(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

}  // namespace

absl::StatusOr<SplitBehavior> ParseSplitBehavior(std::string_view name) {
  if (name == "Removed") return SplitBehavior::kRemoved;
  if (name == "Isolated") return SplitBehavior::kIsolated;
  if (name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (name == "Contiguous") return SplitBehavior::kContiguous;
  return absl::InvalidArgumentError(absl::StrCat("unknown split behavior \"", AsAbsl(name), "\""));
}

std::vector<std::string> SplitWithRegex(const Regex& regex, SplitBehavior behavior, bool invert,
                                        std::string_view text) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  std::vector<Span> spans = MatchSpans(regex, text);
  if (invert) {
    for (Span& s : spans) s.is_match = !s.is_match;
  }
  for (const Span& s : ApplyBehavior(std::move(spans), behavior)) {
    if (s.end > s.start) out.emplace_back(text.substr(s.start, s.end - s.start));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> CreateSplitPreTokenizer(const SplitOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<Regex> regex,
                   Regex::Create(options.pattern, !options.pattern_is_regex));
  return std::make_unique<SplitPreTokenizer>(std::move(regex), options.behavior, options.invert);
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> CreateByteLevelPreTokenizer(
    const ByteLevelOptions& options) {
  std::unique_ptr<Regex> regex;
  if (options.use_regex) {
    ASSIGN_OR_RETURN(regex, Regex::Create(kGpt2Pattern, /*literal=*/false));
  }
  return std::make_unique<ByteLevelPreTokenizer>(options, std::move(regex));
}

std::unique_ptr<PreTokenizer> CreateSequencePreTokenizer(
    std::vector<std::unique_ptr<PreTokenizer>> steps) {
  return std::make_unique<SequencePreTokenizer>(std::move(steps));
}

}  // namespace r1rl::tokenizer
