// r1rl: one command line for the whole project. Each subcommand lives in its own file.
#include <CLI/CLI.hpp>

#include "services/cli/command.h"

int main(int argc, char** argv) {
  CLI::App app{"r1rl: GRPO training of language-model policies, the DeepSeek-R1 way"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Help for every subcommand");
  r1rl::cli::CommandResult result;
  r1rl::cli::RegisterDoctor(app, &result);
  r1rl::cli::RegisterConfig(app, &result);
  r1rl::cli::RegisterTokenize(app, &result);
  r1rl::cli::RegisterGenerate(app, &result);
  r1rl::cli::RegisterInitModel(app, &result);
  CLI11_PARSE(app, argc, argv);
  return result.exit_code;
}
