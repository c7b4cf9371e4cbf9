// The broadcast's collective path: one version's tensors from the root rank (the learner) to
// every rank of a fixed c10d group (ProcessGroupNCCL among GPU workers; ProcessGroupGloo on
// CPU, which is how it runs in tests here), in buckets of `bucket_bytes`: a few large
// broadcasts whatever the number of tensors, each tensor's bytes copied into and out of one
// reused bucket on the tensors' device.
//
//   // root (the learner): its parameters; every other rank: the tensors to fill, allocated
//   // with the same names, dtypes and shapes, contiguous, on the group's device
//   ASSIGN_OR_RETURN(CollectiveStats st,
//                    BroadcastWeights(*pg, /*root=*/0, version, names, tensors, 256 << 20));
//
// Float32 weights may travel as bfloat16 or float16 (`FloatWire`; the learner trains in
// float32, GPU workers sample in bfloat16): half the bytes; the root narrows (round to nearest
// even), a receiver takes them into tensors of that dtype, or widens them into float32 ones.
//
// Before any weight byte the root broadcasts the plan (the bucket size, the version and each
// tensor's name, dtype and shape) and every rank compares it with its own; the ranks agree on the
// outcome (an all-reduce of a flag), so a rank whose model differs makes every rank return
// InvalidArgument (naming the first tensor that differs on that rank) instead of a hang or
// bytes landing in the wrong tensors. A dead or hung rank fails the call within the group's
// timeout, naming the rank (distributed::ProcessGroup). A receiver's tensors hold a mix of
// versions after a failed call: receive into staging tensors and swap after success.
//
// Membership is the caller's: the group is formed at a version boundary and re-formed only
// when it changes; late joiners take the relay path (docs/architecture.md, the weight plane).
#ifndef R1RL_LIB_BROADCAST_COLLECTIVE_WEIGHTS_H_
#define R1RL_LIB_BROADCAST_COLLECTIVE_WEIGHTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/distributed/process_group.h"

namespace at {
class Tensor;
}

namespace r1rl::broadcast {

enum class FloatWire {
  kAsIs,      // every tensor in its own dtype: the ranks' dtypes must be the same
  kBFloat16,  // float32 and bfloat16 tensors travel as bfloat16
  kFloat16,   // float32 and float16 tensors travel as float16
};

// "as_is", "bfloat16", "float16" (as the learner tells the group's members).
const char* FloatWireName(FloatWire wire);
absl::StatusOr<FloatWire> ParseFloatWire(const std::string& name);

struct CollectiveStats {
  int64_t bytes = 0;    // weight bytes moved, as on the wire (the plan excluded)
  int64_t buckets = 0;  // broadcast calls for the weights
  double seconds = 0;   // the whole call, plan included
};

// The plan as the root sends it: "<version>\n" then "<name> <dtype on the wire> <d0>x<d1>...\n"
// per tensor. Exposed for tests and logs.
std::string WeightPlan(int64_t version, const std::vector<std::string>& names,
                       const std::vector<at::Tensor>& tensors, FloatWire wire = FloatWire::kAsIs);

// InvalidArgument (names and tensors of different lengths, a tensor not contiguous,
// bucket_bytes < 1, a plan that differs on some rank) or the group's error; every rank
// returns an error when one rank's plan differs.
absl::StatusOr<CollectiveStats> BroadcastWeights(
    distributed::ProcessGroup& pg, int root, int64_t version, const std::vector<std::string>& names,
    std::vector<at::Tensor>& tensors, int64_t bucket_bytes, FloatWire wire = FloatWire::kAsIs);

}  // namespace r1rl::broadcast

#endif  // R1RL_LIB_BROADCAST_COLLECTIVE_WEIGHTS_H_
