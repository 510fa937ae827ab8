// display_command.hpp: `framering display`: the newest frame of a ring in an OpenCV window, or as PNG snapshots when headless.
#pragma once

#include <functional>
#include "framering/common/stage_command.hpp"


namespace CLI {
class App;
}

namespace framering::display {

/// Adds the `display` subcommand to `app`. When the user selects it, `action` is set to the
/// function that runs it and returns the exit code (0 ok, 2 could not start, 3 lost frames).
/// The supervisor also builds it to check a pipeline's options before starting anything.
void add_display_subcommand(CLI::App& app, StageCommand& command);

}  // namespace framering::display
