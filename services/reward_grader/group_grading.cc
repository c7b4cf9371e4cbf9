#include "services/reward_grader/group_grading.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace r1rl::reward {

const char* DropName(Drop drop) {
  switch (drop) {
    case Drop::kNone:
      return "none";
    case Drop::kMalformed:
      return "malformed";
    case Drop::kOversized:
      return "oversized";
    case Drop::kUnknownRewardKind:
      return "unknown_reward_kind";
    case Drop::kBadRewardSpec:
      return "bad_reward_spec";
    case Drop::kNan:
      return "nan";
    case Drop::kNoSamples:
      return "no_samples";
  }
  return "malformed";
}

absl::StatusOr<RewardSpec> SpecFromProto(const v1::RewardSpec& p) {
  nlohmann::json j;
  j["kind"] = p.kind();
  if (p.kind() == "code") {
    j["language"] = p.language();
    if (!p.test_script().empty()) j["test_script"] = p.test_script();
    if (p.has_all_or_nothing()) j["all_or_nothing"] = p.all_or_nothing();
    if (!p.cot_language().empty()) j["cot_language"] = p.cot_language();
    j["tests"] = nlohmann::json::array();
    for (const auto& t : p.tests())
      j["tests"].push_back({{"stdin", t.stdin()}, {"stdout", t.stdout()}});
  } else {
    j["answer"] = p.answer();
    if (!p.language().empty()) j["language"] = p.language();
  }
  return ParseRewardSpec(j);
}

GroupOutcome GradeGroup(const Grader& grader, const std::string& grader_id,
                        v1::RolloutGroup* group) {
  GroupOutcome o;
  if (group->samples_size() == 0) {
    return {Drop::kNoSamples, absl::StrCat("group ", group->lease_id(), ": no samples"), 0};
  }
  for (int i = 0; i < group->samples_size(); ++i) {
    for (float lp : group->samples(i).behaviour_logprobs()) {
      if (!std::isfinite(lp)) {
        return {Drop::kNan,
                absl::StrCat("group ", group->lease_id(), ": samples[", i,
                             "].behaviour_logprobs holds ", lp),
                0};
      }
    }
  }
  auto spec = SpecFromProto(group->reward());
  if (!spec.ok()) {
    const bool kind = std::string(spec.status().message()).rfind("reward.kind", 0) == 0;
    return {kind ? Drop::kUnknownRewardKind : Drop::kBadRewardSpec,
            absl::StrCat("group ", group->lease_id(), ": ", spec.status().message()), 0};
  }
  for (int i = 0; i < group->samples_size(); ++i) {
    v1::Sample* s = group->mutable_samples(i);
    Grade g = grader.Score(s->text(), *spec);
    if (!std::isfinite(g.reward)) {
      return {Drop::kNan,
              absl::StrCat("group ", group->lease_id(), ": samples[", i, "] reward is ", g.reward),
              0};
    }
    s->set_reward(g.reward);
    s->mutable_reward_components()->clear();
    for (const auto& [name, value] : g.components) (*s->mutable_reward_components())[name] = value;
    s->set_reward_reason(g.reason);
  }
  group->set_graded(true);
  group->set_grader_id(grader_id);
  o.samples = group->samples_size();
  return o;
}

}  // namespace r1rl::reward
