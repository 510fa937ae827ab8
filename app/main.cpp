// main.cpp: the one `framering` executable. It only wires each part's subcommand; the code of
// each lives in that part's library.
#include <cstdio>
#include <exception>
#include <functional>

#include <CLI/CLI.hpp>

#include "framering/acquire/acquire_command.hpp"
#include "framering/acquire/cameras_command.hpp"
#include "framering/bench/ring_bench.hpp"
#include "framering/bridge/bridge_command.hpp"
#include "framering/common/error.hpp"
#include "framering/common/stage_command.hpp"
#include "framering/display/display_command.hpp"
#include "framering/led/led_command.hpp"
#include "framering/process/process_command.hpp"
#include "framering/record/inspect_command.hpp"
#include "framering/record/record_command.hpp"
#include "framering/supervise/run_command.hpp"
#include "framering/supervise/status_command.hpp"

namespace {

// The one list of stage subcommands: the executable's, and the supervisor's (which checks a
// pipeline's stages with exactly these parsers and asks them which rings they use).
void add_stage_subcommands(CLI::App& app, framering::StageCommand& command) {
  framering::acquire::add_acquire_subcommand(app, command);
  framering::process::add_process_subcommand(app, command);
  framering::display::add_display_subcommand(app, command);
  framering::led::add_led_subcommand(app, command);
  framering::record::add_record_subcommand(app, command);
  framering::bridge::add_bridge_subcommand(app, command);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"framering: move, process, show and record 16-bit camera frames through shared-memory rings"};
  app.set_version_flag("--version", "framering 0.1.0");
  app.require_subcommand(1);
  app.footer("Run `framering <command> --help` for each command's options.");
  framering::StageCommand stage;
  std::function<int()>& action = stage.action;
  add_stage_subcommands(app, stage);
  framering::supervise::add_run_subcommand(app, action, add_stage_subcommands);
  framering::supervise::add_status_subcommand(app, action);
  framering::acquire::add_cameras_subcommand(app, action);
  framering::record::add_inspect_subcommand(app, action);
  framering::bench::add_bench_subcommand(app, action);
  CLI11_PARSE(app, argc, argv);
  try {
    return action ? action() : 0;
  } catch (const framering::Error& e) {
    std::fprintf(stderr, "framering: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "framering: unexpected error: %s\n", e.what());
    return 2;
  }
}
