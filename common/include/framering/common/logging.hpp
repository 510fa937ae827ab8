// logging.hpp: one way to log, for every subcommand: spdlog to stderr, one line per event,
// tagged with the stage and pid so that `framering run`'s merged output stays readable.
#pragma once

#include <string>
#include <string_view>

namespace framering {

/// Installs the default logger "framering-<stage>[pid]" on stderr at `level` (trace, debug,
/// info, warn, error, critical, off); a second call replaces it. Throws ConfigError naming the
/// level when it is unknown. `thread_safe`: a logger whose sink takes a mutex, for a process
/// whose threads log (`framering run`, whose HTTP API logs from civetweb's threads); the stages
/// log from one thread and keep the lock-free one.
void setup_logging(std::string_view stage, std::string_view level, bool thread_safe = false);

/// The level names setup_logging() accepts, for --help and CLI checks.
[[nodiscard]] const char* log_level_names() noexcept;

}  // namespace framering
