// run_command.hpp: `framering run` (the supervisor), and the one list of stage subcommands that
// both the executable and the supervisor's config check use.
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace framering::supervise {

/// Adds every stage subcommand (acquire, process, display) to `app`.
void add_stage_subcommands(CLI::App& app, std::function<int()>& action);

/// Adds the `run` subcommand to `app`; when selected, `action` runs the pipeline.
void add_run_subcommand(CLI::App& app, std::function<int()>& action);

}  // namespace framering::supervise
