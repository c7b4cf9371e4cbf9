#include "lib/broadcast/collective_sender.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "lib/distributed/process_group.h"
#include "lib/transport/host_name.h"

namespace r1rl::broadcast {
CollectiveSender::CollectiveSender(BroadcastPublisher* publisher, CollectiveSenderOptions options)
    : publisher_(publisher), options_(std::move(options)) {
  if (options_.host.empty()) options_.host = transport::HostName();
}

CollectiveSender::~CollectiveSender() = default;

absl::Status CollectiveSender::Form(const v1::CollectiveGroupInfo& group, bool cuda,
                                    std::vector<int>* missing) {
  pg_.reset();
  generation_ = 0;
  distributed::DistOptions d;
  d.rank = 0;
  d.world_size = group.world_size();
  d.master_addr = options_.host;
  d.master_port = 0;  // the kernel's pick: a fresh port per generation
  d.backend = options_.backend;
  if (d.backend == distributed::Backend::kAuto)
    d.backend = cuda ? distributed::Backend::kNccl : distributed::Backend::kGloo;
  d.timeout = options_.timeout;
  d.interface = options_.interface;
  absl::Status told;
  d.on_listening = [&](int port) {
    v1::RendezvousRequest req;
    req.set_generation(group.generation());
    req.set_address(absl::StrCat(options_.host, ":", port));
    req.set_backend(distributed::BackendName(d.backend));
    req.set_bucket_bytes(options_.bucket_bytes);
    req.set_wire(FloatWireName(options_.wire));
    told = publisher_->Rendezvous(req);
    if (!told.ok()) spdlog::warn("learner: collective: {}", std::string(told.message()));
  };
  auto pg = distributed::ProcessGroup::Create(d, cuda, missing);
  if (!told.ok()) return told;  // (Create then timed out waiting for members nobody told)
  if (!pg.ok()) return pg.status();
  pg_ = std::move(*pg);
  generation_ = group.generation();
  spdlog::info("learner: collective group generation {} formed: {} receivers ({})",
               group.generation(), group.world_size() - 1, distributed::BackendName(d.backend));
  return absl::OkStatus();
}

absl::StatusOr<CollectiveStats> CollectiveSender::Send(int64_t version,
                                                       const v1::CollectiveGroupInfo& group,
                                                       const ParamsFn& params) {
  absl::StatusOr<CollectiveStats> st;
  if (group.world_size() < 2) {
    pg_.reset();
    generation_ = 0;
    return CollectiveStats{};
  }
  std::vector<std::string> names;
  std::vector<at::Tensor> tensors;
  params(&names, &tensors);
  std::vector<int> gone;
  if (generation_ != group.generation()) {
    const bool cuda = !tensors.empty() && tensors[0].is_cuda();
    if (absl::Status s = Form(group, cuda, &gone); !s.ok()) st = s;
  }
  if (pg_) {
    st = BroadcastWeights(*pg_, 0, version, names, tensors, options_.bucket_bytes, options_.wire);
    if (!st.ok()) gone = pg_->gone_ranks();
  }
  v1::CollectiveReport report;
  report.set_generation(group.generation());
  report.set_version(version);
  report.set_ok(st.ok());
  if (st.ok()) {
    report.set_seconds(st->seconds);
    report.set_bytes(st->bytes);
  } else {
    report.set_error(std::string(st.status().message()));
    for (int r : gone) report.add_gone_ranks(r);
    pg_.reset();  // not used again: the service forms another generation
    generation_ = 0;
    spdlog::warn(
        "learner: version {} through collective group generation {} failed: {}; its "
        "members take it from the relay chains",
        version, group.generation(), std::string(st.status().message()));
  }
  if (absl::Status s = publisher_->CollectiveDone(report); !s.ok())
    spdlog::warn("learner: collective: {}", std::string(s.message()));
  return st;
}

}  // namespace r1rl::broadcast
