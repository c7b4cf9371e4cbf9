// Grading one RolloutGroup as it arrives on the data plane: check it, grade every sample,
// or say why it is dropped. What the grader service's worker threads run; torch-free.
//
//   GroupOutcome o = GradeGroup(grader, grader_id, &group);
//   if (o.drop == Drop::kNone) push(group); else count(DropName(o.drop)), log(o.reason);
#ifndef R1RL_SERVICES_REWARD_GRADER_GROUP_GRADING_H_
#define R1RL_SERVICES_REWARD_GRADER_GROUP_GRADING_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "lib/rewards/grader.h"
#include "r1rl/v1/rollout.pb.h"

namespace r1rl::reward {

enum class Drop {
  kNone,
  kMalformed,
  kOversized,
  kUnknownRewardKind,
  kBadRewardSpec,
  kNan,
  kNoSamples
};
const char* DropName(Drop drop);  // "malformed", "oversized", … (the status RPC's keys)

struct GroupOutcome {
  Drop drop = Drop::kNone;
  std::string reason;  // for a drop: what was wrong, naming the field and value
  int samples = 0;     // graded
};

// The proto's reward spec, checked by the same rules as a dataset row's (reward_spec.h).
absl::StatusOr<RewardSpec> SpecFromProto(const v1::RewardSpec& proto);

// Checks and grades `group` in place (each sample's reward, components and reason; graded,
// grader_id).
GroupOutcome GradeGroup(const Grader& grader, const std::string& grader_id,
                        v1::RolloutGroup* group);

}  // namespace r1rl::reward

#endif  // R1RL_SERVICES_REWARD_GRADER_GROUP_GRADING_H_
