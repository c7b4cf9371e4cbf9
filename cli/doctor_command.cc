// `r1rl doctor`: the versions of every dependency, the BLAS in use with its measured
// GEMM rate, and the devices LibTorch sees. Exit code 1 when the reference BLAS is in use.
#include <grpc/grpc.h>
#include <rocksdb/version.h>
#include <torch/torch.h>
#include <torch/version.h>
#include <zmq.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <civetweb.h>
#include <fmt/core.h>
#include <google/protobuf/stubs/common.h>
#include <pcre2.h>
#include <spdlog/version.h>
#include <unicode/uvernum.h>

#include <CLI/Version.hpp>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/base/config.h"
#include "cli/command.h"
#include "lib/runtime/blas_core.h"
#include "lib/runtime/blas_probe.h"
#include "lib/runtime/threads.h"

namespace r1rl::cli {
namespace {

std::string Dotted(int major, int minor, int patch) {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

int RunDoctor(bool json) {
  int zmq_major = 0, zmq_minor = 0, zmq_patch = 0;
  zmq_version(&zmq_major, &zmq_minor, &zmq_patch);
  nlohmann::ordered_json report;
  report["r1rl"] = R1RL_VERSION;
  report["compiler"] = __VERSION__;
  report["libtorch"] = TORCH_VERSION;
  report["cuda_available"] = torch::cuda::is_available();
  report["cuda_devices"] = torch::cuda::is_available() ? torch::cuda::device_count() : 0;
  report["intra_op_threads"] = runtime::ConfigureThreads(0);
  report["cores"] = std::thread::hardware_concurrency();
  report["grpc"] = grpc_version_string();
  report["protobuf"] =
      Dotted(GOOGLE_PROTOBUF_VERSION / 1000000, GOOGLE_PROTOBUF_VERSION / 1000 % 1000,
             GOOGLE_PROTOBUF_VERSION % 1000);
  report["zeromq"] = Dotted(zmq_major, zmq_minor, zmq_patch);
  report["rocksdb"] = Dotted(ROCKSDB_MAJOR, ROCKSDB_MINOR, ROCKSDB_PATCH);
  report["civetweb"] = CIVETWEB_VERSION;
  report["abseil"] = std::to_string(ABSL_LTS_RELEASE_VERSION);
  report["nlohmann_json"] =
      Dotted(NLOHMANN_JSON_VERSION_MAJOR, NLOHMANN_JSON_VERSION_MINOR, NLOHMANN_JSON_VERSION_PATCH);
  report["yaml-cpp"] = R1RL_YAML_CPP_VERSION;
  report["cli11"] = CLI11_VERSION;
  report["spdlog"] = Dotted(SPDLOG_VER_MAJOR, SPDLOG_VER_MINOR, SPDLOG_VER_PATCH);
  report["fmt"] = Dotted(FMT_VERSION / 10000, FMT_VERSION / 100 % 100, FMT_VERSION % 100);
  report["pcre2"] = std::to_string(PCRE2_MAJOR) + "." + std::to_string(PCRE2_MINOR);
  report["icu"] = U_ICU_VERSION;
  runtime::BlasReport blas = runtime::ProbeBlas();
  report["blas_library"] = blas.library;
  report["blas_config"] = blas.config;
  report["openblas_core"] = runtime::DescribeCoreTypeChoice();
  report["gemm_gflops"] = blas.gemm_gflops;
  report["reference_blas"] = blas.is_reference;
  if (json) {
    std::cout << report.dump() << "\n";
  } else {
    for (const auto& [key, value] : report.items()) {
      std::cout << key << ": " << (value.is_string() ? value.get<std::string>() : value.dump())
                << "\n";
    }
    if (blas.is_reference) {
      std::cout
          << "WARNING: the reference BLAS is in use (~30x slower). Run scripts/install-deps.sh "
             "or: update-alternatives --config libblas.so.3-x86_64-linux-gnu\n";
    }
  }
  return blas.is_reference ? 1 : 0;
}

}  // namespace

void RegisterDoctor(CLI::App& root, CommandResult* result) {
  auto* cmd = root.add_subcommand(
      "doctor", "Print dependency versions, the BLAS in use and its measured GEMM rate");
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "One JSON object instead of lines");
  cmd->callback([=] { result->exit_code = RunDoctor(*json); });
}

}  // namespace r1rl::cli
