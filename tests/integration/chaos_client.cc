// r1rl-chaos: bad input against a running cluster, for cluster_test.sh. Sends random bytes
// and malformed or lying RolloutGroups to every ZeroMQ socket the cluster binds (rollouts,
// which the controller forwards to the graders, and ingest), garbage to every /metrics
// port, and gRPC calls with absurd fields to the controller. Then checks, by scraping
// /metrics, that the learner and the graders counted what they rejected. Exit 0 when every
// call got the expected error and the counters moved; 1 otherwise (the reason on stderr).
//
//   r1rl-chaos --grpc 127.0.0.1:50051 --rollouts tcp://127.0.0.1:5555 --ingest tcp://...
//              --learner-metrics 127.0.0.1:9101 --grader-metrics 127.0.0.1:9103 [--metrics
//              host:port ...]
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <random>
#include <thread>
#include <zmq.hpp>

#include "lib/metrics/scrape.h"
#include "lib/security/curve_keys.h"
#include "lib/security/grpc_security.h"
#include "r1rl/v1/controller.grpc.pb.h"

namespace {

using std::chrono::milliseconds;
int failures = 0;

void Expect(bool ok, const std::string& what) {
  std::cout << (ok ? "ok    " : "FAIL  ") << what << "\n";
  if (!ok) ++failures;
}

double Sum(const std::string& address, const std::string& prefix) {
  auto text = r1rl::metrics::HttpGet(address, "/metrics", milliseconds(3000));
  if (!text.ok()) return -1;
  double sum = 0;
  for (const auto& [k, v] : r1rl::metrics::ParseText(*text)) {
    if (k.rfind(prefix, 0) == 0) sum += v;
  }
  return sum;
}

std::vector<std::string> Garbage(std::mt19937_64& rng) {
  std::vector<std::string> out;
  for (int i = 0; i < 200; ++i) {  // random bytes, 0..4 KiB
    std::string b(rng() % 4096, '\0');
    for (char& c : b) c = static_cast<char>(rng());
    out.push_back(std::move(b));
  }
  r1rl::v1::RolloutGroup g;  // well-formed protobuf that lies
  g.set_lease_id("L-never-granted");
  g.set_graded(true);
  g.add_samples()->add_completion_ids(-7);
  out.push_back(g.SerializeAsString());
  g.clear_lease_id();
  out.push_back(g.SerializeAsString());
  g.set_lease_id("L-not-graded");
  g.set_graded(false);
  out.push_back(g.SerializeAsString());
  out.push_back(std::string(20u << 20, 'x'));  // over the grader's 16 MiB limit
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"r1rl-chaos: bad input against a running cluster"};
  std::string grpc_address, rollouts, ingest, learner_metrics, grader_metrics, keys;
  std::vector<std::string> other_metrics;
  app.add_option("--grpc", grpc_address)->required();
  app.add_option("--rollouts", rollouts)->required();
  app.add_option("--ingest", ingest)->required();
  app.add_option("--learner-metrics", learner_metrics)->required();
  app.add_option("--grader-metrics", grader_metrics)->required();
  app.add_option("--metrics", other_metrics, "More /metrics ports to send garbage to");
  app.add_option("--keys", keys,
                 "The cluster's keys folder: bad input from a client holding the "
                 "worker token (none: plain text)");
  CLI11_PARSE(app, argc, argv);

  const double rejected_before = Sum(learner_metrics, "r1rl_controller_rejected_total");
  const double dropped_before = Sum(grader_metrics, "r1rl_grader_dropped_total");
  std::mt19937_64 rng(1);

  r1rl::security::SecurityOptions security;
  security.keys_dir = keys;
  security.insecure = keys.empty();
  // ZeroMQ: garbage to the rollouts socket (forwarded to graders) and the ingest socket, from
  // an insider (a worker's and a grader's CurveZMQ keys: the content must still be refused).
  zmq::context_t ctx(1);
  for (const std::string& endpoint : {rollouts, ingest}) {
    zmq::socket_t push(ctx, zmq::socket_type::push);
    push.set(zmq::sockopt::linger, 10000);
    auto curve =
        r1rl::security::CurveClient(security, endpoint == ingest ? "grader" : "worker", "learner");
    Expect(curve.ok(), "CurveZMQ keys for " + endpoint);
    if (curve.ok()) r1rl::transport::SetCurve(push, *curve, /*bind=*/false);
    push.connect(endpoint);
    int sent = 0;
    for (const std::string& m : Garbage(rng))
      sent += push.send(zmq::buffer(m), zmq::send_flags::none).has_value();
    Expect(sent == 204, "204 bad messages sent to " + endpoint);
  }

  // gRPC with absurd fields.
  auto opened = r1rl::security::OpenChannel(grpc_address, security, r1rl::security::Role::kWorker);
  Expect(opened.ok(), "a channel with the worker token");
  if (!opened.ok()) return 1;
  auto channel = *opened;
  auto stub = r1rl::v1::Controller::NewStub(channel);
  auto call = [&](auto fn) {
    grpc::ClientContext c;
    c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    return fn(&c);
  };
  r1rl::v1::RegisterResponse reg;
  r1rl::v1::RegisterRequest rr;
  rr.set_worker_id(std::string(100000, 'w'));
  Expect(call([&](grpc::ClientContext* c) { return stub->Register(c, rr, &reg); }).error_code() ==
             grpc::StatusCode::INVALID_ARGUMENT,
         "Register with a 100 kB worker id: INVALID_ARGUMENT");
  for (int n : {-5, 0, 1 << 30}) {
    r1rl::v1::LeasePromptsRequest lr;
    lr.set_worker_id("worker-1");
    lr.set_max_prompts(n);
    r1rl::v1::LeasePromptsResponse resp;
    Expect(call([&](grpc::ClientContext* c) {
             return stub->LeasePrompts(c, lr, &resp);
           }).error_code() == grpc::StatusCode::INVALID_ARGUMENT,
           "LeasePrompts max_prompts = " + std::to_string(n) + ": INVALID_ARGUMENT");
  }
  {
    r1rl::v1::LeasePromptsRequest lr;
    lr.set_worker_id("nobody");
    lr.set_max_prompts(4);
    r1rl::v1::LeasePromptsResponse resp;
    Expect(call([&](grpc::ClientContext* c) {
             return stub->LeasePrompts(c, lr, &resp);
           }).error_code() == grpc::StatusCode::NOT_FOUND,
           "LeasePrompts from an unknown worker: NOT_FOUND");
    r1rl::v1::HeartbeatRequest hr;
    hr.set_worker_id("nobody");
    hr.set_policy_version(-99);
    r1rl::v1::HeartbeatResponse hresp;
    Expect(call([&](grpc::ClientContext* c) {
             return stub->Heartbeat(c, hr, &hresp);
           }).error_code() == grpc::StatusCode::NOT_FOUND,
           "Heartbeat from an unknown worker: NOT_FOUND");
    r1rl::v1::FetchWeightsRequest fr;
    fr.set_worker_id("nobody");
    grpc::ClientContext c;
    auto reader = stub->FetchWeights(&c, fr);
    r1rl::v1::WeightsChunk chunk;
    while (reader->Read(&chunk)) {
    }
    Expect(reader->Finish().error_code() == grpc::StatusCode::NOT_FOUND,
           "FetchWeights for an unknown worker: NOT_FOUND");
  }

  // Garbage to every HTTP /metrics port.
  std::vector<std::string> http = other_metrics;
  http.push_back(learner_metrics);
  http.push_back(grader_metrics);
  for (const std::string& hp : http) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(std::stoi(hp.substr(hp.rfind(':') + 1))));
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
      std::string junk(9000, '\0');
      for (char& c : junk) c = static_cast<char>(rng());
      (void)!send(fd, junk.data(), junk.size(), MSG_NOSIGNAL);
    }
    close(fd);
  }

  // The counters moved (ZeroMQ is asynchronous: give the services a moment).
  double rejected = 0, dropped = 0;
  for (int i = 0; i < 100; ++i) {
    rejected = Sum(learner_metrics, "r1rl_controller_rejected_total") - rejected_before;
    dropped = Sum(grader_metrics, "r1rl_grader_dropped_total") - dropped_before;
    if (rejected >= 200 && dropped >= 1) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  std::cout << "learner rejected " << rejected << " inputs; this grader dropped " << dropped
            << "\n";
  Expect(rejected >= 200, "the learner counted the rejected messages and calls");
  Expect(dropped >= 1, "the grader counted dropped messages");
  for (const std::string& hp : http) {
    Expect(r1rl::metrics::HttpGet(hp, "/healthz", milliseconds(3000)).ok(),
           "healthy after the garbage: " + hp);
  }
  return failures == 0 ? 0 : 1;
}
