// main.cpp: the one `framering` executable. It only wires each part's subcommand; the code of
// each lives in that part's library.
#include <cstdio>
#include <exception>
#include <functional>

#include <CLI/CLI.hpp>

#include "framering/acquire/cameras_command.hpp"
#include "framering/app/stage_subcommands.hpp"
#include "framering/bench/ring_bench.hpp"
#include "framering/common/error.hpp"
#include "framering/common/stage_command.hpp"
#include "framering/record/inspect_command.hpp"
#include "framering/supervise/run_command.hpp"
#include "framering/supervise/status_command.hpp"

int main(int argc, char** argv) {
  CLI::App app{"framering: move, process, show and record 16-bit camera frames through shared-memory rings"};
  app.set_version_flag("--version", "framering 0.1.0");
  app.require_subcommand(1);
  app.footer("Run `framering <command> --help` for each command's options.");
  framering::StageCommand stage;
  std::function<int()>& action = stage.action;
  framering::app::add_stage_subcommands(app, stage);
  framering::supervise::add_run_subcommand(app, action, framering::app::add_stage_subcommands);
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
