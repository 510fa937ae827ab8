#include "framering/process/process_command.hpp"

#include <CLI/CLI.hpp>

#include "framering/common/error.hpp"

namespace framering::process {

void add_process_subcommand(CLI::App& app, std::function<int()>& action) {
  CLI::App* cmd = app.add_subcommand("process", "(being built)");
  cmd->callback([&action] { action = [] () -> int { throw Error("framering process is not built yet"); }; });
}

}  // namespace framering::process
