// logging.hpp: one way to log, for every subcommand: spdlog to stderr, one line per event,
// tagged with the stage and pid so that `framering run`'s merged output stays readable.
#pragma once

#include <string>
#include <string_view>

namespace framering {

/// Installs the default logger "framering-<stage>[pid]" on stderr at `level` (trace, debug,
/// info, warn, error, critical, off); a second call replaces it. Throws ConfigError naming the
/// level when it is unknown.
void setup_logging(std::string_view stage, std::string_view level);

/// The level names setup_logging() accepts, for --help and CLI checks.
[[nodiscard]] const char* log_level_names() noexcept;

}  // namespace framering
