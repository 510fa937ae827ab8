// acquire_command.hpp: `framering acquire`: the producer of a ring: synthetic patterns, image files and videos.
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace framering::acquire {

/// Adds the `acquire` subcommand to `app`. When the user selects it, `action` is set to the
/// function that runs it and returns the exit code (0 ok, 2 could not start, 3 lost frames).
/// The supervisor also builds it to check a pipeline's options before starting anything.
void add_acquire_subcommand(CLI::App& app, std::function<int()>& action);

}  // namespace framering::acquire
