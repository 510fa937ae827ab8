// bridge_command.hpp: `framering bridge send | receive | keygen`: one ring carried across a
// ZeroMQ connection to another machine (docs/bridge-protocol.md).
#pragma once

#include "framering/common/stage_command.hpp"

namespace CLI {
class App;
}

namespace framering::bridge {

/// Adds `bridge` with its subcommands `send` (a consumer of a local ring, every or newest),
/// `receive` (the producer of a ring fed from the network) and `keygen` (CURVE key files).
void add_bridge_subcommand(CLI::App& app, StageCommand& command);

}  // namespace framering::bridge
