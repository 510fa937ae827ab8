// cli_options.hpp: the options every subcommand shares (--instance, --log-level), added the
// same way everywhere; and those every consumer stage shares (--wait).
#pragma once

#include <string>

#include "framering/common/wait_strategy.hpp"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace framering {

/// Options common to all subcommands.
struct CommonOptions {
  /// Groups the rings of one pipeline: segments are /dev/shm/framering.<instance>.<ring>.
  std::string instance = "default";
  std::string log_level = "info";
};

/// Adds --instance (env FRAMERING_INSTANCE) and --log-level (env FRAMERING_LOG_LEVEL) to `app`.
void add_common_options(CLI::App& app, CommonOptions& options);

/// Adds --wait futex|spin|deadline to a consumer stage's `app`, parsed into `strategy` (whose
/// value on entry is the default --help shows): how the stage's reader waits for the next frame
/// (ring::WaitStrategy, ReaderOptions::wait). Anything else is a CLI11 validation error (exit
/// code 105, naming the accepted values). Returns the option, for a group or an env name.
CLI::Option* add_wait_option(CLI::App& app, ring::WaitStrategy& strategy);

}  // namespace framering
