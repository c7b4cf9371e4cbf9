// Who is in the collective group that the broadcast's collective path (collective_weights.h)
// sends each version through: the learner at rank 0 and the receivers that can take it (GPU
// workers on NCCL). A c10d group is fixed once formed, so membership changes (a receiver
// joins, leaves, is dropped as too slow or dead) take effect only at a version boundary: the
// group a version is sent through does not change while it is sent. At the next boundary, if
// the members differ, a new generation is formed: the generation number rises (it names the
// rendezvous, so no member of an old generation meets a new one) and ranks are given again,
// in the order receivers first joined. Until then a joiner is not in the group and takes the
// version through the relay chains, as every late joiner does.
//
//   CollectiveMembership m(/*max_receivers=*/64);
//   m.Join("w1"); m.Join("w2");
//   const CollectiveGroup& g = m.Boundary(/*version=*/7);   // generation 1: learner, w1, w2
//   m.RankOf("w2");                                          // 2
//   m.Leave("w1");                                           // w1 stays until version 8
//
// Thread-safety: none (the service holds its lock around it).
#ifndef R1RL_LIB_BROADCAST_COLLECTIVE_MEMBERSHIP_H_
#define R1RL_LIB_BROADCAST_COLLECTIVE_MEMBERSHIP_H_

#include <cstdint>
#include <string>
#include <vector>

namespace r1rl::broadcast {

struct CollectiveGroup {
  int64_t generation = 0;  // 0: no group formed yet
  int64_t version = 0;     // the version boundary it was formed at
  // Rank r's receiver id at r - 1; the learner is rank 0 and has no entry.
  std::vector<std::string> receivers;
  int world_size() const { return static_cast<int>(receivers.size()) + 1; }
};

class CollectiveMembership {
 public:
  // At most `max_receivers` receivers in a group; the others (those that joined last) take
  // the relay chains.
  explicit CollectiveMembership(int max_receivers) : max_receivers_(max_receivers) {}

  // A receiver asks in (no-op when already in or waiting); it is in the group from the next
  // boundary on.
  void Join(const std::string& id);
  // A receiver leaves or is dropped; it stays in the current group until the next boundary
  // (the group is fixed), and its rank is not reused before then.
  void Leave(const std::string& id);

  // The group `version` is sent through: the current one when the members did not change
  // and it did not fail, else a new generation with the waiting members in.
  const CollectiveGroup& Boundary(int64_t version);
  // The current group failed a version (a member died, hung, or differs): it is not used
  // again; its members take the relay chains until the next boundary forms a new generation.
  void Break() { broken_ = true; }
  bool broken() const { return broken_; }

  const CollectiveGroup& current() const { return current_; }
  // `id`'s rank in the current group (1..), or -1 when it is not in it.
  int RankOf(const std::string& id) const;
  // Receivers that asked in, in the order they first did (those beyond max_receivers wait).
  const std::vector<std::string>& members() const { return members_; }

 private:
  int max_receivers_;
  std::vector<std::string> members_;  // who is in from the next boundary on
  CollectiveGroup current_;
  bool broken_ = false;
};

}  // namespace r1rl::broadcast

#endif  // R1RL_LIB_BROADCAST_COLLECTIVE_MEMBERSHIP_H_
