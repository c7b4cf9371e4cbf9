#include "cli/command.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>

namespace r1rl::cli {

void ConfigFlags::AddTo(CLI::App* command) {
  command->add_option("--config", files, "YAML config file(s), applied in order")
      ->check(CLI::ExistingFile);
  command->add_option("--set", overrides, "Override a config key: key.path=value (repeatable)");
}

void AddConfigOverride(CLI::App* command, std::vector<std::string>* overrides,
                       const std::string& name, const std::string& key, const std::string& help) {
  command->add_option_function<std::string>(
      name, [overrides, key](const std::string& v) { overrides->push_back(key + "=" + v); }, help);
}

absl::StatusOr<config::Config> ConfigFlags::Load(const std::vector<std::string>& extra) const {
  std::vector<std::string> all = overrides;
  all.insert(all.end(), extra.begin(), extra.end());
  return config::Config::Load(files, all);
}

int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kDataLoss:  // a truncated or corrupt input file
      return 2;
    default:
      return 1;
  }
}

int Fail(const std::string& command, const absl::Status& status) {
  std::cerr << "r1rl " << command << ": " << status.message() << "\n";
  return ExitCodeFor(status);
}

void SetUpLogging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("r1rl");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
}

}  // namespace r1rl::cli
