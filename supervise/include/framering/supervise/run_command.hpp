// run_command.hpp: `framering run` (the supervisor). It links no stage: the executable hands it
// the factory that adds the stage subcommands (framering::app::add_stage_subcommands: the one list).
#pragma once

#include <functional>

#include "framering/common/stage_command.hpp"

namespace framering::supervise {

/// Adds the `run` subcommand to `app`; when selected, `action` runs the pipeline. `stages` adds
/// every stage subcommand to a parser: the pipeline's stages are checked and described with it.
void add_run_subcommand(CLI::App& app, std::function<int()>& action, StageParserFactory stages);

}  // namespace framering::supervise
