#include "framering/app/stage_subcommands.hpp"

#include "framering/acquire/acquire_command.hpp"
#include "framering/bridge/bridge_command.hpp"
#include "framering/display/display_command.hpp"
#include "framering/led/led_command.hpp"
#include "framering/process/process_command.hpp"
#include "framering/record/record_command.hpp"

namespace framering::app {

void add_stage_subcommands(CLI::App& app, StageCommand& command) {
  acquire::add_acquire_subcommand(app, command);
  process::add_process_subcommand(app, command);
  display::add_display_subcommand(app, command);
  led::add_led_subcommand(app, command);
  record::add_record_subcommand(app, command);
  bridge::add_bridge_subcommand(app, command);
}

}  // namespace framering::app
