// r1rl-attacker: every attempt issue 19 made against an unsecured cluster, repeated against a
// running one (tests/integration/attacker_test.sh). The outsider holds only what a cluster
// publishes: the CA certificate and the learner's and broadcast's CurveZMQ public keys (a
// CURVE client must know the server's key). With --insider-keys the same binary also plays a
// worker and a grader gone rogue: they hold their own role's keys and must still be unable
// to act as admin, take over another worker's id, or feed made-up rewards into training.
//
// Prints one line per attempt, "refused: ..." or "BREACH: ...", and exits 1 on any breach.
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <thread>
#include <zmq.hpp>

#include "lib/metrics/scrape.h"
#include "lib/security/curve_keys.h"
#include "lib/security/grpc_security.h"
#include "lib/security/keys.h"
#include "r1rl/v1/broadcast.grpc.pb.h"
#include "r1rl/v1/controller.grpc.pb.h"
#include "r1rl/v1/grader.grpc.pb.h"

namespace {

using std::chrono::milliseconds;
int breaches = 0;

void Refused(bool refused, const std::string& what) {
  std::cout << (refused ? "refused: " : "BREACH: ") << what << std::endl;
  if (!refused) ++breaches;
}

double Metric(const std::string& address, const std::string& sample) {
  auto text = r1rl::metrics::HttpGet(address, "/metrics", milliseconds(3000));
  if (!text.ok()) return -1;
  auto s = r1rl::metrics::ParseText(*text);
  auto it = s.find(sample);
  return it == s.end() ? 0 : it->second;
}

std::string ReadFile(const std::string& path) {
  auto text = r1rl::security::ReadKeyFile(path);
  if (!text.ok()) {
    std::cerr << "r1rl-attacker: " << text.status().message() << "\n";
    std::exit(2);
  }
  return *text;
}

// TLS trusting the cluster's (public) CA; `token` "" sends none.
std::shared_ptr<grpc::Channel> Tls(const std::string& target, const std::string& ca,
                                   const std::string& token) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ca;
  auto creds = grpc::SslCredentials(ssl);
  if (!token.empty()) {
    creds = grpc::CompositeChannelCredentials(creds, grpc::AccessTokenCredentials(token));
  }
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(r1rl::security::kServerName);
  return grpc::CreateCustomChannel(target, creds, args);
}

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  return c;
}

std::string Code(const grpc::Status& s) {
  static const char* kNames[] = {"OK",
                                 "CANCELLED",
                                 "UNKNOWN",
                                 "INVALID_ARGUMENT",
                                 "DEADLINE_EXCEEDED",
                                 "NOT_FOUND",
                                 "ALREADY_EXISTS",
                                 "PERMISSION_DENIED",
                                 "RESOURCE_EXHAUSTED",
                                 "FAILED_PRECONDITION",
                                 "ABORTED",
                                 "OUT_OF_RANGE",
                                 "UNIMPLEMENTED",
                                 "INTERNAL",
                                 "UNAVAILABLE",
                                 "DATA_LOSS",
                                 "UNAUTHENTICATED"};
  const int c = static_cast<int>(s.error_code());
  return c >= 0 && c <= 16 ? kNames[c] : "?";
}

// A graded group claiming a reward of 100 for `lease`.
std::string Forged(const std::string& lease_id, const std::string& worker, double reward) {
  r1rl::v1::RolloutGroup g;
  g.set_lease_id(lease_id);
  g.set_worker_id(worker);
  g.set_graded(true);
  g.set_grader_id("attacker");
  for (int i = 0; i < 8; ++i) {
    auto* s = g.add_samples();
    s->set_text("<think>x</think><answer>0</answer>");
    s->add_completion_ids(5);
    s->add_behaviour_logprobs(-0.1f);
    s->set_reward(reward);
  }
  return g.SerializeAsString();
}

// A CURVE client with key pair (pub, secret) of a server whose public key is `server`.
void SetCurve(zmq::socket_t& s, const std::string& pub, const std::string& secret,
              const std::string& server) {
  r1rl::transport::SetCurve(s, {pub, secret, server, ""}, /*bind=*/false);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"r1rl-attacker: issue 19's attempts against a running cluster"};
  std::string learner, broadcast, grader, ingest, graders, rollouts, chunks, learner_metrics,
      broadcast_metrics, ca_path, learner_pub_path, broadcast_pub_path, insider;
  app.add_option("--learner", learner, "the learner's gRPC host:port")->required();
  app.add_option("--broadcast", broadcast, "the param-broadcast gRPC host:port")->required();
  app.add_option("--grader", grader, "a reward grader's gRPC host:port")->required();
  app.add_option("--ingest", ingest)->required();
  app.add_option("--graders", graders)->required();
  app.add_option("--rollouts", rollouts)->required();
  app.add_option("--chunks", chunks, "the broadcast's chunk endpoint")->required();
  app.add_option("--learner-metrics", learner_metrics)->required();
  app.add_option("--broadcast-metrics", broadcast_metrics)->required();
  app.add_option("--ca", ca_path, "the cluster's CA certificate (public)")->required();
  app.add_option("--learner-pub", learner_pub_path, "curve/learner.pub (public)")->required();
  app.add_option("--broadcast-pub", broadcast_pub_path, "curve/broadcast.pub (public)")->required();
  app.add_option("--insider-keys", insider, "a keys folder: also play a rogue worker and grader");
  CLI11_PARSE(app, argc, argv);
  const std::string ca = ReadFile(ca_path);
  const std::string learner_pub = ReadFile(learner_pub_path).substr(0, 40);
  const std::string broadcast_pub = ReadFile(broadcast_pub_path).substr(0, 40);

  std::cout << "== the control plane, without a key" << std::endl;
  {
    auto plain = grpc::CreateChannel(learner, grpc::InsecureChannelCredentials());
    r1rl::v1::ControllerStatus st;
    auto s = r1rl::v1::Admin::NewStub(plain)->Drain(Ctx().get(), {}, &st);
    Refused(!s.ok(), "Admin.Drain in plain text: " + Code(s));
  }
  for (const std::string& token : {std::string(), std::string(64, 'a')}) {
    const std::string who = token.empty() ? "no token" : "a made-up token";
    auto admin = r1rl::v1::Admin::NewStub(Tls(learner, ca, token));
    r1rl::v1::ControllerStatus st;
    auto s = admin->Pause(Ctx().get(), {}, &st);
    Refused(s.error_code() == grpc::StatusCode::UNAUTHENTICATED,
            "Admin.Pause, " + who + ": " + Code(s));
    s = admin->Drain(Ctx().get(), {}, &st);
    Refused(s.error_code() == grpc::StatusCode::UNAUTHENTICATED,
            "Admin.Drain, " + who + ": " + Code(s));
    r1rl::v1::CheckpointResponse ck;
    s = admin->CheckpointNow(Ctx().get(), {}, &ck);
    Refused(s.error_code() == grpc::StatusCode::UNAUTHENTICATED,
            "Admin.CheckpointNow, " + who + ": " + Code(s));
    auto ctl = r1rl::v1::Controller::NewStub(Tls(learner, ca, token));
    r1rl::v1::RegisterResponse reg;
    s = ctl->Register(Ctx().get(), {}, &reg);
    Refused(s.error_code() == grpc::StatusCode::UNAUTHENTICATED,
            "Controller.Register, " + who + ": " + Code(s));
    r1rl::v1::FetchWeightsRequest fr;
    fr.set_have_version(-1);
    auto ctx = Ctx();
    auto reader = ctl->FetchWeights(ctx.get(), fr);
    r1rl::v1::WeightsChunk chunk;
    int64_t bytes = 0;
    while (reader->Read(&chunk)) bytes += static_cast<int64_t>(chunk.data().size());
    s = reader->Finish();
    Refused(bytes == 0 && !s.ok(), "Controller.FetchWeights (the model), " + who + ": " + Code(s) +
                                       ", " + std::to_string(bytes) + " bytes");
    r1rl::v1::RolloutGroup graded;
    s = r1rl::v1::RewardGrader::NewStub(Tls(grader, ca, token))
            ->Grade(Ctx().get(), r1rl::v1::RolloutGroup(), &graded);
    Refused(s.error_code() == grpc::StatusCode::UNAUTHENTICATED,
            "RewardGrader.Grade (code in the sandbox), " + who + ": " + Code(s));
    auto bc = r1rl::v1::ParamBroadcast::NewStub(Tls(broadcast, ca, token));
    r1rl::v1::JoinResponse jr;
    s = bc->Join(Ctx().get(), {}, &jr);
    Refused(s.error_code() == grpc::StatusCode::UNAUTHENTICATED,
            "ParamBroadcast.Join, " + who + ": " + Code(s));
    r1rl::v1::PublishResponse pr;
    auto pctx = Ctx();
    auto writer = bc->Publish(pctx.get(), &pr);
    r1rl::v1::PublishPart part;
    part.set_version(1000000);
    writer->Write(part);
    writer->WritesDone();
    s = writer->Finish();
    Refused(s.error_code() == grpc::StatusCode::UNAUTHENTICATED,
            "ParamBroadcast.Publish (new weights), " + who + ": " + Code(s));
  }

  std::cout << "== the data plane, without a key" << std::endl;
  zmq::context_t ctx(1);
  char pub[41], secret[41];
  zmq_curve_keypair(pub, secret);
  const double ingest_refused_before =
      Metric(learner_metrics, "r1rl_zmq_refused_total{domain=\"ingest\"}");
  const double graders_refused_before =
      Metric(learner_metrics, "r1rl_zmq_refused_total{domain=\"graders\"}");
  const double rollouts_refused_before =
      Metric(learner_metrics, "r1rl_zmq_refused_total{domain=\"rollouts\"}");
  const double chunks_refused_before =
      Metric(broadcast_metrics, "r1rl_zmq_refused_total{domain=\"chunks\"}");
  const double out_of_range_before =
      Metric(learner_metrics, "r1rl_controller_rejected_total{reason=\"reward_out_of_range\"}");
  std::vector<std::unique_ptr<zmq::socket_t>> sockets;
  for (int curve = 0; curve < 2; ++curve) {
    for (const std::string& endpoint : {ingest, rollouts}) {
      auto s = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::push);
      s->set(zmq::sockopt::linger, 0);
      if (curve) SetCurve(*s, pub, secret, learner_pub);
      s->connect(endpoint);
      for (int i = 0; i < 20; ++i) {
        (void)s->send(zmq::buffer(Forged("L-" + std::to_string(i), "worker-1", 100.0)),
                      zmq::send_flags::dontwait);
      }
      sockets.push_back(std::move(s));
    }
  }
  // The graders' endpoint: would it hand real rollouts to a stranger?
  int stolen = 0;
  for (int curve = 0; curve < 2; ++curve) {
    zmq::socket_t pull(ctx, zmq::socket_type::pull);
    pull.set(zmq::sockopt::linger, 0);
    pull.set(zmq::sockopt::rcvtimeo, 3000);
    if (curve) SetCurve(pull, pub, secret, learner_pub);
    pull.connect(graders);
    zmq::message_t m;
    while (pull.recv(m)) ++stolen;
  }
  Refused(stolen == 0, "PULL from the graders' endpoint (plain and an unknown key): " +
                           std::to_string(stolen) + " rollouts taken");
  {
    zmq::socket_t dealer(ctx, zmq::socket_type::dealer);
    dealer.set(zmq::sockopt::linger, 0);
    dealer.set(zmq::sockopt::rcvtimeo, 2000);
    SetCurve(dealer, pub, secret, broadcast_pub);
    dealer.connect(chunks);
    (void)dealer.send(zmq::str_buffer("chunk please"), zmq::send_flags::dontwait);
    zmq::message_t m;
    Refused(!dealer.recv(m).has_value(), "a weight chunk from the broadcast, unknown key");
  }
  std::this_thread::sleep_for(milliseconds(500));
  auto grew = [&](const std::string& address, const std::string& sample, double before) {
    return Metric(address, sample) > before;
  };
  Refused(grew(learner_metrics, "r1rl_zmq_refused_total{domain=\"ingest\"}", ingest_refused_before),
          "graded groups with reward 100 pushed to the ingest: refused, counted");
  Refused(
      grew(learner_metrics, "r1rl_zmq_refused_total{domain=\"rollouts\"}", rollouts_refused_before),
      "rollouts pushed by a stranger: refused, counted");
  Refused(
      grew(learner_metrics, "r1rl_zmq_refused_total{domain=\"graders\"}", graders_refused_before),
      "a stranger on the graders' endpoint: refused, counted");
  Refused(
      grew(broadcast_metrics, "r1rl_zmq_refused_total{domain=\"chunks\"}", chunks_refused_before),
      "a stranger on the broadcast's chunks: refused, counted");
  sockets.clear();

  std::cout << "== the HTTP edge: 40 connections that never finish their request" << std::endl;
  {
    const std::string host = learner_metrics.substr(0, learner_metrics.rfind(':'));
    const int port = std::stoi(learner_metrics.substr(learner_metrics.rfind(':') + 1));
    std::vector<int> idle;
    for (int i = 0; i < 40; ++i) {
      const int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<uint16_t>(port));
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
        (void)send(fd, "GET /hea", 8, MSG_NOSIGNAL);
      }
      idle.push_back(fd);
    }
    double worst_ms = 0;
    bool all_ok = true;
    for (int i = 0; i < 60; ++i) {  // 3 s: past the 2 s per-connection limit
      const auto t0 = std::chrono::steady_clock::now();
      all_ok =
          all_ok && r1rl::metrics::HttpGet(learner_metrics, "/healthz", milliseconds(1000)).ok();
      worst_ms = std::max(
          worst_ms,
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      std::this_thread::sleep_for(milliseconds(50));
    }
    for (int fd : idle) close(fd);
    Refused(all_ok && worst_ms < 100, "/healthz stalled by idle clients (slowest answer " +
                                          std::to_string(worst_ms) + " ms)");
  }

  if (!insider.empty()) {
    std::cout << "== a rogue worker and a rogue grader (their own role's keys)" << std::endl;
    r1rl::security::SecurityOptions keys;
    keys.keys_dir = insider;
    auto worker = *r1rl::security::OpenChannel(learner, keys, r1rl::security::Role::kWorker);
    r1rl::v1::ControllerStatus st;
    auto s = r1rl::v1::Admin::NewStub(worker)->Drain(Ctx().get(), {}, &st);
    Refused(s.error_code() == grpc::StatusCode::PERMISSION_DENIED,
            "Admin.Drain with the worker token: " + Code(s));
    r1rl::v1::RolloutGroup graded;
    s = r1rl::v1::RewardGrader::NewStub(
            *r1rl::security::OpenChannel(grader, keys, r1rl::security::Role::kWorker))
            ->Grade(Ctx().get(), r1rl::v1::RolloutGroup(), &graded);
    Refused(s.error_code() == grpc::StatusCode::PERMISSION_DENIED,
            "RewardGrader.Grade with the worker token: " + Code(s));
    auto ctl = r1rl::v1::Controller::NewStub(worker);
    r1rl::v1::RegisterRequest rr;
    rr.set_worker_id("worker-1");
    r1rl::v1::RegisterResponse reg;
    s = ctl->Register(Ctx().get(), rr, &reg);
    Refused(s.ok() && reg.worker_id() != "worker-1",
            "Register as the live worker-1: given \"" + reg.worker_id() + "\"");
    // One real lease, then a grader's key vouching for it with made-up rewards.
    r1rl::v1::LeasePromptsRequest lr;
    lr.set_worker_id(reg.worker_id());
    lr.set_max_prompts(1);
    lr.set_wait_ms(10000);
    r1rl::v1::LeasePromptsResponse leased;
    auto lctx = std::make_unique<grpc::ClientContext>();
    lctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    s = ctl->LeasePrompts(lctx.get(), lr, &leased);
    if (!s.ok() || leased.leases_size() == 0) {
      Refused(false, "could not lease a prompt to test the ingest with: " + Code(s));
    } else {
      auto curve = r1rl::security::CurveClient(keys, "grader", "learner");
      zmq::socket_t push(ctx, zmq::socket_type::push);
      push.set(zmq::sockopt::linger, 2000);
      r1rl::transport::SetCurve(push, *curve, /*bind=*/false);
      push.connect(ingest);
      const std::string lease = leased.leases(0).lease_id();
      push.send(zmq::buffer(Forged(lease, reg.worker_id(), 100.0)), zmq::send_flags::none);
      const double wrong_before =
          Metric(learner_metrics, "r1rl_controller_rejected_total{reason=\"wrong_worker\"}");
      push.send(zmq::buffer(Forged(lease, "worker-1", 1.0)), zmq::send_flags::none);
      std::this_thread::sleep_for(milliseconds(1000));
      Refused(
          grew(learner_metrics, "r1rl_controller_rejected_total{reason=\"reward_out_of_range\"}",
               out_of_range_before),
          "a grader's key pushing reward 100 for a live lease: refused, counted");
      Refused(grew(learner_metrics, "r1rl_controller_rejected_total{reason=\"wrong_worker\"}",
                   wrong_before),
              "a grader's key pushing a group for another worker's lease: refused, counted");
    }
  }
  std::cout << (breaches == 0 ? "every attempt refused" : "BREACHES: " + std::to_string(breaches))
            << std::endl;
  return breaches == 0 ? 0 : 1;
}
