// led_command.hpp: `framering led`: the newest frame of a ring (usually `processed`) on a
// circular LED screen (skyscreen: 360 vanes x 288 RGB LEDs), sent to a memory-mapped frame file in
// skyscreen's layout, to E1.31 (sACN) controllers, and drawn as a PNG preview.
#pragma once

#include <functional>

#include "framering/common/stage_command.hpp"


namespace CLI {
class App;
}

namespace framering::led {

/// Adds the `led` subcommand to `app`. When the user selects it, `action` is set to the function
/// that runs it and returns the exit code (0 ok, 2 could not start). The supervisor also builds
/// it to check a pipeline's options before starting anything.
void add_led_subcommand(CLI::App& app, StageCommand& command);

}  // namespace framering::led
