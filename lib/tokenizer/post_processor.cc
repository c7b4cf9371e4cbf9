#include "lib/tokenizer/post_processor.h"

#include <utility>

namespace r1rl::tokenizer {

void PostProcessor::AddStep(std::vector<int32_t> prefix, std::vector<int32_t> suffix) {
  prefix.insert(prefix.end(), prefix_.begin(), prefix_.end());
  prefix_ = std::move(prefix);
  suffix_.insert(suffix_.end(), suffix.begin(), suffix.end());
}

std::vector<int32_t> PostProcessor::added_ids() const {
  std::vector<int32_t> ids = prefix_;
  ids.insert(ids.end(), suffix_.begin(), suffix_.end());
  return ids;
}

std::vector<int32_t> PostProcessor::Apply(std::vector<int32_t> ids) const {
  if (prefix_.empty() && suffix_.empty()) return ids;
  std::vector<int32_t> out;
  out.reserve(prefix_.size() + ids.size() + suffix_.size());
  out.insert(out.end(), prefix_.begin(), prefix_.end());
  out.insert(out.end(), ids.begin(), ids.end());
  out.insert(out.end(), suffix_.begin(), suffix_.end());
  return out;
}

}  // namespace r1rl::tokenizer
