// The controller's gRPC layer: r1rl.v1.Controller (Register, Heartbeat, ReportStatus,
// LeasePrompts, FetchWeights) and r1rl.v1.Admin (Pause, Resume, Drain, CheckpointNow,
// Status). Thin: each RPC checks its fields (INVALID_ARGUMENT / NOT_FOUND naming the field
// and the value, and a rejected-input counter) and calls the controller's parts
// (controller_core.h). Internal to lib/controller; ControllerServer registers it.
//
// Thread-safety: RPCs run on gRPC's threads; the core is thread-safe.
#ifndef R1RL_LIB_CONTROLLER_CONTROLLER_SERVICE_H_
#define R1RL_LIB_CONTROLLER_CONTROLLER_SERVICE_H_

#include "lib/controller/controller_core.h"
#include "r1rl/v1/controller.grpc.pb.h"

namespace r1rl::learner {

class ControllerService final : public v1::Controller::Service, public v1::Admin::Service {
 public:
  explicit ControllerService(ControllerCore& core) : core_(core) {}

  grpc::Status Register(grpc::ServerContext*, const v1::RegisterRequest* req,
                        v1::RegisterResponse* resp) override;
  grpc::Status Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest* req,
                         v1::HeartbeatResponse* resp) override;
  grpc::Status ReportStatus(grpc::ServerContext*, const v1::WorkerReport* req,
                            v1::ReportStatusResponse* resp) override;
  grpc::Status LeasePrompts(grpc::ServerContext* ctx, const v1::LeasePromptsRequest* req,
                            v1::LeasePromptsResponse* resp) override;
  grpc::Status FetchWeights(grpc::ServerContext* ctx, const v1::FetchWeightsRequest* req,
                            grpc::ServerWriter<v1::WeightsChunk>* writer) override;

  grpc::Status Pause(grpc::ServerContext*, const v1::AdminRequest*,
                     v1::ControllerStatus* out) override;
  grpc::Status Resume(grpc::ServerContext*, const v1::AdminRequest*,
                      v1::ControllerStatus* out) override;
  grpc::Status Status(grpc::ServerContext*, const v1::AdminRequest*,
                      v1::ControllerStatus* out) override;
  grpc::Status Drain(grpc::ServerContext*, const v1::AdminRequest*,
                     v1::ControllerStatus* out) override;
  grpc::Status CheckpointNow(grpc::ServerContext* ctx, const v1::CheckpointRequest* req,
                             v1::CheckpointResponse* out) override;

 private:
  // OK after marking the worker as heard from; NOT_FOUND (counted) when it never registered.
  grpc::Status KnownWorker(const std::string& id);
  // INVALID_ARGUMENT with `message`, counted as bad_request.
  grpc::Status BadRequest(const std::string& message);

  ControllerCore& core_;
};

}  // namespace r1rl::learner

#endif  // R1RL_LIB_CONTROLLER_CONTROLLER_SERVICE_H_
