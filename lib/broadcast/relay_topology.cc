#include "lib/broadcast/relay_topology.h"

#include <algorithm>

namespace r1rl::broadcast {

RelayTopology::RelayTopology(int fanout, v1::Peer root)
    : root_(std::move(root)), chains_(static_cast<size_t>(std::max(1, fanout))) {}

v1::Peer RelayTopology::Join(const std::string& id, const std::string& endpoint) {
  if (Place p = Find(id); p.chain >= 0) {
    chains_[static_cast<size_t>(p.chain)][static_cast<size_t>(p.position)].set_endpoint(endpoint);
    return *Parent(id);
  }
  auto shortest =
      std::min_element(chains_.begin(), chains_.end(),
                       [](const auto& a, const auto& b) { return a.size() < b.size(); });
  v1::Peer parent = shortest->empty() ? root_ : shortest->back();
  v1::Peer node;
  node.set_id(id);
  node.set_endpoint(endpoint);
  shortest->push_back(std::move(node));
  return parent;
}

void RelayTopology::Remove(const std::string& id) {
  Place p = Find(id);
  if (p.chain < 0) return;
  auto& chain = chains_[static_cast<size_t>(p.chain)];
  chain.erase(chain.begin() + p.position);
}

std::optional<v1::Peer> RelayTopology::Parent(const std::string& id) const {
  Place p = Find(id);
  if (p.chain < 0) return std::nullopt;
  if (p.position == 0) return root_;
  return chains_[static_cast<size_t>(p.chain)][static_cast<size_t>(p.position - 1)];
}

RelayTopology::Place RelayTopology::Find(const std::string& id) const {
  for (size_t c = 0; c < chains_.size(); ++c) {
    for (size_t i = 0; i < chains_[c].size(); ++i) {
      if (chains_[c][i].id() == id) return {static_cast<int>(c), static_cast<int>(i)};
    }
  }
  return {};
}

size_t RelayTopology::size() const {
  size_t n = 0;
  for (const auto& c : chains_) n += c.size();
  return n;
}

}  // namespace r1rl::broadcast
