#include "framering/common/cli_options.hpp"

#include <CLI/CLI.hpp>

#include "framering/common/logging.hpp"
#include "framering/common/stage_command.hpp"

namespace framering {

void add_common_options(CLI::App& app, CommonOptions& options) {
  app.add_option("--instance", options.instance,
                 "Pipeline instance: its rings are /dev/shm/framering.<instance>.<ring>")
      ->envname(kStageEnvInstance)
      ->capture_default_str();
  app.add_option("--log-level", options.log_level, std::string{"Log level: "} + log_level_names())
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->envname(kStageEnvLogLevel)
      ->capture_default_str();
}

}  // namespace framering
