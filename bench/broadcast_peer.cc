// broadcast_peer: a light (LibTorch-free) publisher, receiver and status probe for the
// param-broadcast service, for the W1 benchmark (bench/broadcast_w1.sh) and the process-level
// test (tests/integration/broadcast_test.sh).
//
//   broadcast_peer publish --service H:P --version V --bytes N [--seed S] [--changed F]
//   broadcast_peer receive --service H:P [--id ID] [--bind tcp://0.0.0.0:0]
//                          [--advertise-host H] [--versions N] [--discard] [--max-held-chunks K]
//                          [--timeout-s S]
//   broadcast_peer status --service H:P
//   broadcast_peer serve-fetch --address H:P --bytes N [--seed S] --dir D
//   broadcast_peer fetch --controller H:P
//   broadcast_peer diff A.safetensors B.safetensors [--chunk-bytes N] [--bf16]
//
// Every gRPC subcommand takes --keys DIR (r1rl keys init: TLS and the role tokens, as the
// services run by default); without it the calls are plain text (a security.insecure service).
//
// publish: synthetic weights (U8 tensors of 4 MiB, filled from --seed; with --changed F, the
// first F of the tensors from seed+1), one JSON line {"version", "bytes", "chunks",
// "chunks_unchanged", "seconds"}. receive: one JSON line per version verified
// {"receiver", "version", "bytes", "published_unix_ms", "verified_unix_ms", "fetch_seconds",
// "chunks_fetched", "chunks_skipped", "bytes_received", "bytes_sent", "hash_failures",
// "reparents"}; exits 0 after --versions, 1 at --timeout-s. status: the service's Status as
// JSON. serve-fetch / fetch: the path without the service, for comparison: a controller
// (lib/controller) publishing the same synthetic weights, and a Controller.FetchWeights
// client that checks the SHA-256 as the bytes stream in and drops them; one JSON line
// {"bytes", "start_unix_ms", "end_unix_ms", "seconds"}. diff: how much of a version the
// broadcast would skip after a step: chunks of B whose hash equals A's at the same place, and
// tensors and elements unchanged (--bf16: both cast to bfloat16 first, as workers that
// sample in bf16 would receive them).
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "bench/synthetic_weights.h"
#include "google/protobuf/util/json_util.h"
#include "lib/broadcast/manifest.h"
#include "lib/broadcast/publisher.h"
#include "lib/broadcast/receiver.h"
#include "lib/broadcast/transfer_dtype.h"
#include "lib/broadcast/wall_clock.h"
#include "lib/controller/controller_server.h"
#include "lib/data/prompt_dataset.h"
#include "lib/safetensors/safetensors_writer.h"
#include "lib/security/grpc_security.h"
#include "lib/transport/sha256.h"
#include "r1rl/v1/controller.grpc.pb.h"

namespace {

using r1rl::broadcast::Receiver;
using r1rl::broadcast::ReceiverOptions;

using r1rl::bench::SyntheticWeights;

r1rl::security::SecurityOptions g_security;  // from --keys

std::shared_ptr<grpc::Channel> Channel(const std::string& target, r1rl::security::Role role) {
  auto ch = r1rl::security::OpenChannel(target, g_security, role);
  if (!ch.ok()) {
    std::cerr << "broadcast_peer: " << ch.status().message() << "\n";
    std::exit(2);
  }
  return *ch;
}

int Publish(const std::string& service, int64_t version, int64_t bytes, uint32_t seed,
            double changed) {
  const std::string weights = SyntheticWeights(bytes, seed, changed);
  auto pub = r1rl::broadcast::BroadcastPublisher::Open(service, g_security);
  if (!pub.ok())
    return std::cerr << "broadcast_peer publish: " << pub.status().message() << "\n", 2;
  const auto start = std::chrono::steady_clock::now();
  auto r = (*pub)->Publish(version, weights);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!r.ok()) {
    std::cerr << "broadcast_peer publish: " << r.status().message() << "\n";
    return 1;
  }
  std::cout << nlohmann::json({{"version", version},
                               {"bytes", weights.size()},
                               {"chunks", r->chunks()},
                               {"chunks_unchanged", r->chunks_unchanged()},
                               {"seconds", secs}})
                   .dump()
            << std::endl;
  return 0;
}

int Receive(const ReceiverOptions& o, int versions, double timeout_s) {
  auto rx = Receiver::Start(o);
  if (!rx.ok()) {
    std::cerr << "broadcast_peer receive: " << rx.status().message() << "\n";
    return 2;
  }
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  int got = 0;
  while (got < versions && std::chrono::steady_clock::now() < deadline) {
    timespec zero{0, 0};
    if (sigtimedwait(&stop, nullptr, &zero) > 0) break;
    const int64_t announced = (*rx)->announced_version();
    if (announced < 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    auto v = (*rx)->WaitFor(announced, std::chrono::milliseconds(100));
    if (!v) continue;
    const auto c = (*rx)->counters();
    std::cout << nlohmann::json({{"receiver", (*rx)->id()},
                                 {"version", v->version},
                                 {"bytes", v->bytes.size()},
                                 {"published_unix_ms", v->published_unix_ms},
                                 {"verified_unix_ms", v->verified_unix_ms},
                                 {"fetch_seconds", v->fetch_seconds},
                                 {"chunks_fetched", v->chunks_fetched},
                                 {"chunks_skipped", v->chunks_skipped},
                                 {"bytes_received", c.bytes_received()},
                                 {"bytes_sent", c.bytes_sent()},
                                 {"hash_failures", c.hash_failures()},
                                 {"reparents", c.reparents()}})
                     .dump()
              << std::endl;
    ++got;
  }
  // A relay lingers a little so its child can take the last chunks it holds.
  if (got >= versions) std::this_thread::sleep_for(std::chrono::seconds(3));
  (*rx)->Stop();
  return got >= versions ? 0 : 1;
}

int ServeFetch(const std::string& address, int64_t bytes, uint32_t seed, const std::string& dir) {
  r1rl::learner::ControllerOptions o;
  o.grpc_address = address;
  o.rollouts_address = "tcp://127.0.0.1:0";
  o.graders_address = "tcp://127.0.0.1:0";
  o.ingest_address = "tcp://127.0.0.1:0";
  o.metrics_address = "127.0.0.1:0";
  o.buffer_path = dir + "/buffer";
  o.security = g_security;
  auto data = r1rl::learner::PromptDataset::Parse(
      R"({"prompt": "1+1=", "reward": {"kind": "exact", "answer": "2"}})", "inline");
  if (!data.ok()) return std::cerr << data.status().message() << "\n", 2;
  auto c = r1rl::learner::ControllerServer::Start(o, std::move(*data));
  if (!c.ok())
    return std::cerr << "broadcast_peer serve-fetch: " << c.status().message() << "\n", 2;
  (*c)->PublishWeights(0, SyntheticWeights(bytes, seed, 1.0));
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  std::cout << "serving" << std::endl;
  int sig = 0;
  sigwait(&stop, &sig);
  return 0;
}

int Fetch(const std::string& controller) {
  auto stub = r1rl::v1::Controller::NewStub(Channel(controller, r1rl::security::Role::kWorker));
  r1rl::v1::RegisterResponse reg;
  {
    grpc::ClientContext rctx;
    r1rl::v1::RegisterRequest r;
    r.set_kind("rollout_worker");
    if (grpc::Status s = stub->Register(&rctx, r, &reg); !s.ok())
      return std::cerr << "broadcast_peer fetch: register: " << s.error_message() << "\n", 1;
  }
  const auto start = std::chrono::steady_clock::now();
  const int64_t start_ms = r1rl::broadcast::UnixMillis();
  grpc::ClientContext ctx;
  r1rl::v1::FetchWeightsRequest req;
  req.set_worker_id(reg.worker_id());
  req.set_have_version(-1);
  auto reader = stub->FetchWeights(&ctx, req);
  r1rl::v1::WeightsChunk chunk;
  r1rl::transport::Sha256Stream hash;
  std::string want;
  int64_t got = 0;
  while (reader->Read(&chunk)) {
    if (want.empty()) want = chunk.sha256();
    hash.Update(chunk.data());
    got += static_cast<int64_t>(chunk.data().size());
  }
  const std::string hex = hash.HexDigest();
  grpc::Status st = reader->Finish();
  if (!st.ok() || hex != want) {
    std::cerr << "broadcast_peer fetch: " << (st.ok() ? "SHA-256 differs" : st.error_message())
              << "\n";
    return 1;
  }
  std::cout
      << nlohmann::json(
             {{"bytes", got},
              {"start_unix_ms", start_ms},
              {"end_unix_ms", r1rl::broadcast::UnixMillis()},
              {"seconds",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()}})
             .dump()
      << std::endl;
  return 0;
}

// The file's bytes, or (bf16) the file with every F32 tensor cast to BF16.
absl::StatusOr<std::string> Bytes(const std::string& path, bool bf16) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(path);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!bf16) return bytes;
  return r1rl::broadcast::CastFloat32Tensors(bytes, r1rl::safetensors::DType::kBF16);
}

int Diff(const std::string& a_path, const std::string& b_path, int64_t chunk_bytes, bool bf16) {
  auto a = Bytes(a_path, bf16);
  auto b = Bytes(b_path, bf16);
  if (!a.ok() || !b.ok()) {
    std::cerr << "broadcast_peer diff: " << (a.ok() ? b.status() : a.status()).message() << "\n";
    return 2;
  }
  auto ma = r1rl::broadcast::BuildManifest(0, *a, chunk_bytes);
  auto mb = r1rl::broadcast::BuildManifest(1, *b, chunk_bytes);
  if (!ma.ok() || !mb.ok()) return 2;
  int64_t same_chunks = 0, same_tensors = 0, same_elements = 0, elements = 0;
  for (int i = 0; i < mb->chunks_size(); ++i)
    same_chunks += i < ma->chunks_size() && ma->chunks(i).hash() == mb->chunks(i).hash();
  for (int i = 0; i < mb->tensors_size() && i < ma->tensors_size(); ++i) {
    const auto& ta = ma->tensors(i);
    const auto& tb = mb->tensors(i);
    const std::string_view xa(a->data() + ta.offset(), static_cast<size_t>(ta.size()));
    const std::string_view xb(b->data() + tb.offset(), static_cast<size_t>(tb.size()));
    same_tensors += xa == xb;
    const size_t width = ta.dtype() == "F32" ? 4 : 2;
    for (size_t k = 0; k + width <= xa.size() && k + width <= xb.size(); k += width) {
      ++elements;
      same_elements += std::memcmp(xa.data() + k, xb.data() + k, width) == 0;
    }
  }
  std::cout << nlohmann::json(
                   {{"bytes", b->size()},
                    {"chunk_bytes", chunk_bytes},
                    {"bf16", bf16},
                    {"chunks", mb->chunks_size()},
                    {"chunks_unchanged", same_chunks},
                    {"tensors", mb->tensors_size()},
                    {"tensors_unchanged", same_tensors},
                    {"elements_unchanged_fraction",
                     elements ? static_cast<double>(same_elements) / static_cast<double>(elements)
                              : 0.0}})
                   .dump()
            << std::endl;
  return 0;
}

int Status(const std::string& service) {
  auto stub = r1rl::v1::ParamBroadcast::NewStub(Channel(service, r1rl::security::Role::kAdmin));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  r1rl::v1::BroadcastStatus st;
  grpc::Status s = stub->Status(&ctx, {}, &st);
  if (!s.ok()) {
    std::cerr << "broadcast_peer status: " << s.error_message() << "\n";
    return 1;
  }
  std::string out;
  google::protobuf::util::JsonPrintOptions jo;
  jo.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(st, &out, jo);
  std::cout << out << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"broadcast_peer: publish, receive and probe for the param-broadcast service"};
  app.require_subcommand(1);
  std::string service;
  int64_t version = 0, bytes = int64_t{64} << 20;
  uint32_t seed = 1;
  double changed = 1.0, timeout_s = 600;
  int versions = 1;
  ReceiverOptions ro;
  auto* pub = app.add_subcommand("publish", "publish synthetic weights");
  pub->add_option("--service", service)->required();
  pub->add_option("--version", version)->required();
  pub->add_option("--bytes", bytes);
  pub->add_option("--seed", seed);
  pub->add_option("--changed", changed, "share of tensors drawn from seed+1");
  auto* rec = app.add_subcommand("receive", "join and verify versions");
  rec->add_option("--service", service)->required();
  rec->add_option("--id", ro.receiver_id);
  rec->add_option("--bind", ro.bind);
  rec->add_option("--advertise-host", ro.advertise_host);
  rec->add_option("--versions", versions);
  rec->add_option("--timeout-s", timeout_s);
  rec->add_option("--max-held-chunks", ro.max_held_chunks);
  bool discard = false;
  rec->add_flag("--discard", discard, "check and drop the bytes");
  auto* st = app.add_subcommand("status", "the service's status as JSON");
  st->add_option("--service", service)->required();
  std::string address, dir;
  auto* serve = app.add_subcommand("serve-fetch", "a controller serving synthetic weights");
  serve->add_option("--address", address)->required();
  serve->add_option("--bytes", bytes);
  serve->add_option("--seed", seed);
  serve->add_option("--dir", dir)->required();
  auto* fetch = app.add_subcommand("fetch", "Controller.FetchWeights once, checked");
  fetch->add_option("--controller", address)->required();
  std::string file_a, file_b;
  int64_t chunk_bytes = int64_t{1} << 20;
  bool bf16 = false;
  auto* diff = app.add_subcommand("diff", "chunks two versions have in common");
  diff->add_option("a", file_a)->required();
  diff->add_option("b", file_b)->required();
  diff->add_option("--chunk-bytes", chunk_bytes);
  diff->add_flag("--bf16", bf16);
  std::string keys;
  for (CLI::App* c : {pub, rec, st, serve, fetch}) {
    c->add_option("--keys", keys, "keys folder (r1rl keys init); none: plain text");
  }
  CLI11_PARSE(app, argc, argv);
  g_security.keys_dir = keys;
  g_security.insecure = keys.empty();
  spdlog::set_default_logger(spdlog::stderr_logger_mt("broadcast_peer"));  // stdout is JSON
  if (*pub) return Publish(service, version, bytes, seed, changed);
  if (*rec) {
    ro.service = service;
    ro.keep_bytes = !discard;
    ro.security = g_security;
    return Receive(ro, versions, timeout_s);
  }
  if (*serve) return ServeFetch(address, bytes, seed, dir);
  if (*fetch) return Fetch(address);
  if (*diff) return Diff(file_a, file_b, chunk_bytes, bf16);
  return Status(service);
}
