#include "framering/acquire/acquire_command.hpp"

#include <CLI/CLI.hpp>

#include "framering/common/error.hpp"

namespace framering::acquire {

void add_acquire_subcommand(CLI::App& app, std::function<int()>& action) {
  CLI::App* cmd = app.add_subcommand("acquire", "(being built)");
  cmd->callback([&action] { action = [] () -> int { throw Error("framering acquire is not built yet"); }; });
}

}  // namespace framering::acquire
