// cli_options.hpp: the options every subcommand shares (--instance, --log-level), added the
// same way everywhere.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace framering {

/// Options common to all subcommands.
struct CommonOptions {
  /// Groups the rings of one pipeline: segments are /dev/shm/framering.<instance>.<ring>.
  std::string instance = "default";
  std::string log_level = "info";
};

/// Adds --instance (env FRAMERING_INSTANCE) and --log-level (env FRAMERING_LOG_LEVEL) to `app`.
void add_common_options(CLI::App& app, CommonOptions& options);

}  // namespace framering
