#include "framering/display/display_command.hpp"

#include <CLI/CLI.hpp>

#include "framering/common/error.hpp"

namespace framering::display {

void add_display_subcommand(CLI::App& app, std::function<int()>& action) {
  CLI::App* cmd = app.add_subcommand("display", "(being built)");
  cmd->callback([&action] { action = [] () -> int { throw Error("framering display is not built yet"); }; });
}

}  // namespace framering::display
