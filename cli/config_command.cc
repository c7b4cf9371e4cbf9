// `r1rl config`: the effective configuration, or the reference of every key.
#include <iostream>

#include "cli/command.h"
#include "lib/config/config_schema.h"

namespace r1rl::cli {

void RegisterConfig(CLI::App& root, CommandResult* result) {
  auto* cmd = root.add_subcommand("config",
                                  "Print the effective configuration (YAML) or the key reference");
  auto flags = std::make_shared<ConfigFlags>();
  auto docs = std::make_shared<bool>(false);
  flags->AddTo(cmd);
  cmd->add_flag("--docs", *docs, "Print docs/configuration.md (every key, type, default, meaning)");
  cmd->callback([=] {
    if (*docs) {
      std::cout << config::SchemaMarkdown();
      return;
    }
    auto config = flags->Load();
    if (!config.ok()) {
      result->exit_code = Fail("config", config.status());
      return;
    }
    std::cout << config->ToYaml();
  });
}

}  // namespace r1rl::cli
