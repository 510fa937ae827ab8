// stage_subcommands.hpp: the one list of stage subcommands (acquire, process, display, led,
// record, bridge), shared by the `framering` executable, the supervisor (which checks a
// pipeline's [[stage]] tables with exactly these parsers and asks them which rings they use) and
// the pipeline-config fuzz target.
#pragma once

#include <CLI/CLI.hpp>

#include "framering/common/stage_command.hpp"

namespace framering::app {

/// Adds every stage's subcommand to `app`; the one chosen on the command line sets
/// `command.action` (and its rings) when parsed.
void add_stage_subcommands(CLI::App& app, StageCommand& command);

}  // namespace framering::app
