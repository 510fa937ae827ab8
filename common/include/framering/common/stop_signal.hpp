// stop_signal.hpp: SIGINT/SIGTERM as a polled flag, for every long-running subcommand.
#pragma once

namespace framering {

/// Installs handlers for SIGINT and SIGTERM that set the stop flag (and nothing else).
void install_stop_handlers() noexcept;

/// Whether SIGINT or SIGTERM arrived since install_stop_handlers().
[[nodiscard]] bool stop_requested() noexcept;

/// The signal that set the flag (SIGINT, SIGTERM), or 0.
[[nodiscard]] int stop_signal() noexcept;

}  // namespace framering
