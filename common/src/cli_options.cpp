#include "framering/common/cli_options.hpp"

#include <string>
#include <vector>

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

CLI::Option* add_wait_option(CLI::App& app, ring::WaitStrategy& strategy) {
  std::vector<std::string> names;
  for (const auto s : {ring::WaitStrategy::Futex, ring::WaitStrategy::Spin, ring::WaitStrategy::Deadline}) {
    names.emplace_back(ring::to_string(s));
  }
  return app
      .add_option_function<std::string>(
          "--wait",
          [&strategy](const std::string& name) {
            if (const auto parsed = ring::parse_wait_strategy(name)) strategy = *parsed;  // IsMember checked it
          },
          "How the reader waits for the next frame: futex (sleep until woken), spin (poll up to 50 us, then "
          "sleep) or deadline (sleep until just before the producer's next frame is due, poll around it, then "
          "sleep); see docs/design-decisions.md")
      ->check(CLI::IsMember(names))
      ->default_str(std::string{ring::to_string(strategy)});
}

}  // namespace framering
