#include "framering/supervise/status_command.hpp"

#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "framering/common/cli_options.hpp"
#include "framering/common/error.hpp"
#include "framering/common/logging.hpp"
#include "framering/common/ring_status.hpp"
#include "framering/common/segment.hpp"
#include "framering/common/stop_signal.hpp"

namespace framering::supervise {
namespace {

struct StatusOptions {
  CommonOptions common;
  bool all_instances = false;
  bool watch = false;
  double interval_s = 1.0;
  bool json = false;
  bool remove_stale = false;
};

// A segment a producer is creating right now is 0 bytes long or has magic 0 for a moment:
// give the creator a second before calling it unreadable.
bool is_being_created(const std::string& instance, const std::string& ring) {
  try {
    (void)ring::Segment::open(instance, ring, std::nullopt, std::chrono::milliseconds{1000});
    return true;
  } catch (const Error&) {
    return false;
  }
}

// One pass: prints every ring, returns 2 when any could not be read.
int show_once(const StatusOptions& options) {
  const std::vector<std::string> instances =
      options.all_instances ? ring::Segment::list_instances() : std::vector<std::string>{options.common.instance};
  std::vector<ring::RingListing> shown;
  std::string text;
  int exit_code = 0;
  std::size_t rings_seen = 0;
  for (const auto& instance : instances) {
    for (const auto& listing : ring::list_instance(instance)) {
      ++rings_seen;
      if (options.remove_stale && (listing.stale || (!listing.status && !is_being_created(instance, listing.ring)))) {
        ring::Segment::remove(instance, listing.ring);
        text += listing.status ? fmt::format("removed stale ring {} of instance {} (no live producer or consumer)\n",
                                             listing.ring, instance)
                               : fmt::format("removed unreadable ring {} of instance {}: {}\n", listing.ring, instance,
                                             listing.error);
        continue;
      }
      shown.push_back(listing);
      if (listing.status) {
        text += fmt::format("instance {}: {}{}", instance, listing.stale ? "[stale: nobody attached] " : "",
                            ring::format_status(*listing.status));
      } else {
        exit_code = 2;
        text += fmt::format("instance {}: ring {}: ERROR {}\n", instance, listing.ring, listing.error);
      }
    }
  }
  if (options.json) {
    const nlohmann::json json = status_json(shown);
    std::fputs((json.dump(options.watch ? -1 : 2) + "\n").c_str(), stdout);
  } else {
    if (rings_seen == 0) {
      text = options.all_instances ? "no framering rings in /dev/shm\n"
                                   : fmt::format("no rings for instance '{}' (looked for /dev/shm/framering.{}.*; "
                                                 "--all shows every instance)\n",
                                                 options.common.instance, options.common.instance);
    }
    if (options.watch) std::fputs("\033[H\033[2J", stdout);
    std::fputs(text.c_str(), stdout);
  }
  std::fflush(stdout);
  return exit_code;
}

int run_status(const StatusOptions& options) {
  setup_logging("status", options.common.log_level);
  if (!options.watch) return show_once(options);
  install_stop_handlers();
  int exit_code = 0;
  while (!stop_requested()) {
    exit_code = show_once(options);
    std::this_thread::sleep_for(std::chrono::duration<double>(options.interval_s));  // the refresh period
  }
  return exit_code;
}

}  // namespace

nlohmann::json status_json(const std::vector<ring::RingListing>& listings) {
  nlohmann::json json = nlohmann::json::array();
  for (const auto& listing : listings) json.push_back(ring::to_json(listing));
  return json;
}

void add_status_subcommand(CLI::App& app, std::function<int()>& action) {
  auto options = std::make_shared<StatusOptions>();
  CLI::App* cmd = app.add_subcommand("status", "Show every ring of an instance: geometry, producer, consumers");
  cmd->footer(
      "For each ring: geometry, the producer (pid, alive, published sequence, rate, dropped, evictions)\n"
      "and each consumer (kind, state, cursor, lag, read, skipped, torn, lost, evictions, last gap, and the\n"
      "publish -> read latency of its last 256 reads: p50, p99, max in ms).\n"
      "A ring nobody is attached to is marked stale; --remove-stale deletes such rings.\n"
      "Examples:\n  framering status\n  framering status --instance lab1 --watch\n  framering status --all --json");
  add_common_options(*cmd, options->common);
  cmd->add_flag("--all", options->all_instances, "Show the rings of every instance");
  cmd->add_flag("-w,--watch", options->watch, "Refresh until Ctrl-C");
  cmd->add_option("--interval", options->interval_s, "Refresh period for --watch, in seconds")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  cmd->add_flag("--json", options->json, "Print JSON (one array per refresh)");
  cmd->add_flag("--remove-stale", options->remove_stale,
                "Remove rings that no live process is attached to, and unreadable ones");
  cmd->callback([options, &action] { action = [options] { return run_status(*options); }; });
}

}  // namespace framering::supervise
