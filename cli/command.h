// The `r1rl` command line: each subcommand registers itself on the root CLI11 app and,
// when chosen, stores its exit code in the shared CommandResult.
//
// Conventions every subcommand keeps: JSON or data on stdout, logs and errors on stderr;
// `--config FILE` (repeatable) and `--set key.path=value` (repeatable) load the one
// configuration format (lib/config); flags a subcommand offers are shorthands for
// config keys and win over files. Errors print "r1rl <command>: <message>" and exit 2 when
// the input is at fault (bad config key or value, bad dataset line, missing file, checkpoint
// of another shape), 1 otherwise.
#ifndef R1RL_CLI_COMMAND_H_
#define R1RL_CLI_COMMAND_H_

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/config/config.h"

namespace r1rl::cli {

struct CommandResult {
  int exit_code = 0;
};

// --config and --set, shared by subcommands that read the configuration.
struct ConfigFlags {
  std::vector<std::string> files;
  std::vector<std::string> overrides;

  void AddTo(CLI::App* command);
  // Loads files then overrides, then `extra` overrides (from the command's own flags).
  absl::StatusOr<config::Config> Load(const std::vector<std::string>& extra = {}) const;
};

// An option `name` whose value becomes the config override "key=value", appended to
// `overrides` (which must outlive the parse: a member of the command's flags).
void AddConfigOverride(CLI::App* command, std::vector<std::string>* overrides,
                       const std::string& name, const std::string& key, const std::string& help);

// 2 for InvalidArgument / NotFound / OutOfRange / FailedPrecondition / DataLoss (bad
// input: a wrong value, a missing or corrupt file), else 1.
int ExitCodeFor(const absl::Status& status);
// Prints "r1rl <command>: <status message>" to stderr and returns ExitCodeFor(status).
int Fail(const std::string& command, const absl::Status& status);

// Sends spdlog output to stderr at the given level name.
void SetUpLogging(const std::string& level);

void RegisterDoctor(CLI::App& root, CommandResult* result);
void RegisterAdmin(CLI::App& root, CommandResult* result);
void RegisterEval(CLI::App& root, CommandResult* result);
void RegisterConfig(CLI::App& root, CommandResult* result);
void RegisterTokenize(CLI::App& root, CommandResult* result);
void RegisterGenerate(CLI::App& root, CommandResult* result);
void RegisterInitModel(CLI::App& root, CommandResult* result);
void RegisterDemo(CLI::App& root, CommandResult* result);
void RegisterSft(CLI::App& root, CommandResult* result);
void RegisterGrade(CLI::App& root, CommandResult* result);
void RegisterCluster(CLI::App& root, CommandResult* result);
void RegisterRejectionSample(CLI::App& root, CommandResult* result);
void RegisterPipeline(CLI::App& root, CommandResult* result);
void RegisterKeys(CLI::App& root, CommandResult* result);

}  // namespace r1rl::cli

#endif  // R1RL_CLI_COMMAND_H_
