// Who feeds whom: the service feeds `fanout` chains; every receiver relays to the next in its
// chain. A chain is the arrangement that does not grow with N on equal links: each node sends
// each byte once, pipelined by chunk, so N receivers take one copy's time plus a chunk's per
// hop (a tree of fan-out F takes F copies' time at every inner node). A joiner goes to the
// tail of the shortest chain; a node removed (dead, too slow, failing its child) leaves its
// child to its own parent; a node that comes back goes to a tail, where it slows nobody.
//
//   RelayTopology t(/*fanout=*/2, root);
//   v1::Peer parent = t.Join("w1", "tcp://h1:4000");   // root, then w1, ...
//   t.Remove("w1");                                     // w1's child now hangs off root
//
// Thread-safety: none (the service holds its lock around it).
#ifndef R1RL_LIB_BROADCAST_RELAY_TOPOLOGY_H_
#define R1RL_LIB_BROADCAST_RELAY_TOPOLOGY_H_

#include <optional>
#include <string>
#include <vector>

#include "r1rl/v1/broadcast.pb.h"

namespace r1rl::broadcast {

class RelayTopology {
 public:
  struct Place {
    int chain = -1;
    int position = -1;  // 0: fed by the root
  };

  RelayTopology(int fanout, v1::Peer root);

  // Adds `id` at the tail of the shortest chain (a node already placed keeps its place, with
  // its endpoint updated) and returns its parent.
  v1::Peer Join(const std::string& id, const std::string& endpoint);
  // Takes `id` out of its chain (no-op when absent); its child is fed by its parent now.
  void Remove(const std::string& id);
  bool Has(const std::string& id) const { return Find(id).chain >= 0; }
  // The parent of `id`; nullopt when it is not placed.
  std::optional<v1::Peer> Parent(const std::string& id) const;
  Place Find(const std::string& id) const;
  const v1::Peer& root() const { return root_; }
  size_t size() const;
  // The chains, each from the node the root feeds to the tail.
  const std::vector<std::vector<v1::Peer>>& chains() const { return chains_; }

 private:
  v1::Peer root_;
  std::vector<std::vector<v1::Peer>> chains_;
};

}  // namespace r1rl::broadcast

#endif  // R1RL_LIB_BROADCAST_RELAY_TOPOLOGY_H_
