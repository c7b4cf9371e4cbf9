// r1rl: one command line for the whole project. Each subcommand lives in its own file.
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>

#include "cli/command.h"
#include "lib/runtime/blas_core.h"

int main(int argc, char** argv) {
  r1rl::runtime::TuneBlasCoreType(argv);  // first: may re-execute with OpenBLAS's kernels fixed
  CLI::App app{"r1rl: GRPO training of language-model policies, the DeepSeek-R1 way"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Help for every subcommand");
  r1rl::cli::CommandResult result;
  r1rl::cli::RegisterDoctor(app, &result);
  r1rl::cli::RegisterConfig(app, &result);
  r1rl::cli::RegisterTokenize(app, &result);
  r1rl::cli::RegisterGenerate(app, &result);
  r1rl::cli::RegisterInitModel(app, &result);
  r1rl::cli::RegisterDemo(app, &result);
  r1rl::cli::RegisterSft(app, &result);
  r1rl::cli::RegisterGrade(app, &result);
  r1rl::cli::RegisterCluster(app, &result);
  r1rl::cli::RegisterAdmin(app, &result);
  r1rl::cli::RegisterEval(app, &result);
  r1rl::cli::RegisterRejectionSample(app, &result);
  r1rl::cli::RegisterPipeline(app, &result);
  r1rl::cli::RegisterKeys(app, &result);
  try {
    try {
      app.parse(argc, argv);
    } catch (const CLI::Success& e) {  // --help, --help-all
      return app.exit(e);
    } catch (const CLI::ParseError& e) {
      // Bad input on the command line (an unknown flag, a value out of range, a missing
      // file): CLI11 names the option and the value; every bad input exits 2.
      app.exit(e);
      return 2;
    }
  } catch (const std::exception& e) {
    // A bug, not bad input (bad input is reported as a status): say so and exit 1.
    std::cerr << "r1rl: internal error: " << e.what() << "\n";
    return 1;
  }
  return result.exit_code;
}
