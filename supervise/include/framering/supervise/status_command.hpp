// status_command.hpp: `framering status`: every ring of an instance, its producer and its
// consumers, once or live (--watch).
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace framering::supervise {

/// Adds the `status` subcommand to `app`. When the user selects it, `action` is set to the
/// function that runs it and returns the exit code (0; 2 when a ring could not be read).
void add_status_subcommand(CLI::App& app, std::function<int()>& action);

}  // namespace framering::supervise
