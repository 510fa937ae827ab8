// ring_process.hpp: what the multi-process and fault tests share on top of test_support: the
// argv of a ring_peer role, its JSON report, a child's /proc state (to see it SIGSTOPped at a
// known point), and the ring as seen from outside through this process's own mapping.
//
// Header-only and inline: each test executable includes it once.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "framering/common/error.hpp"
#include "framering/common/ring_status.hpp"
#include "framering/common/segment.hpp"
#include "test_support.hpp"

namespace framering::test {

inline std::string ring_peer_path() { return ring_peer_bin(); }
inline std::string framering_path() { return framering_bin(); }

/// argv for `ring_peer <role> --instance <instance> <extra...>`.
inline std::vector<std::string> peer_argv(const std::string& role, const std::string& instance,
                                          std::vector<std::string> extra = {}) {
  std::vector<std::string> argv{ring_peer_path(), role, "--instance", instance};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

/// argv for `framering <extra...>`.
inline std::vector<std::string> framering_argv(std::vector<std::string> extra) {
  std::vector<std::string> argv{framering_path()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

/// A `framering run` [[stage]] table: acquire's testpattern, 64x48 Mono16, into ring `raw` with
/// `slots` slots at `rate_hz` frames/s (0 = flat out), so that every frame's pixels are
/// (sequence + x + 3y) & 0xFFFF.
inline std::string pattern_acquire_stage(double rate_hz, unsigned slots = 16) {
  std::ostringstream toml;
  toml << "[[stage]]\nname = \"acquire\"\nsource = \"pattern\"\nscene = \"testpattern\"\nwidth = 64\nheight = 48\n"
       << "pixel-format = \"Mono16\"\nrate-hz = " << rate_hz << "\nslots = " << slots
       // Wait (never drop a frame) while a killed every consumer comes back, however loaded the
       // machine: a drop would make the run's exit code 3 for a reason the test is not about.
       << "\nclaim-timeout-ms = 60000\n\n";
  return toml.str();
}

/// A `framering run` [[stage]] table: `process` as an every consumer of `raw` that publishes each
/// frame unchanged (identity; camera_frame_id = the raw sequence) into `processed`, planned at
/// once (estimate, no wisdom file); `extra` adds keys.
inline std::string identity_process_stage(const std::string& extra = "") {
  return "[[stage]]\nname = \"process\"\ninput-ring = \"raw\"\noutput-ring = \"processed\"\nmode = \"identity\"\n"
         "consumer = \"every\"\nplanner = \"estimate\"\nno-wisdom = true\n" +
         extra + "\n";
}

/// The last non-empty line of `out` parsed as JSON (ring_peer's report); null when there is
/// none or it is not JSON.
inline nlohmann::json report_of(const std::string& out) {
  std::istringstream lines(out);
  std::string line;
  std::string last;
  while (std::getline(lines, line)) {
    if (!line.empty()) last = line;
  }
  return nlohmann::json::parse(last, nullptr, /*allow_exceptions=*/false);
}

/// The state letter of /proc/<pid>/stat ('R', 'S', 'T' when stopped, 'Z'), or '?' when gone.
inline char process_state(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() ? stat[paren + 2] : '?';
}

/// Waits until `child` has stopped itself (SIGSTOP, /proc state 'T').
inline bool wait_stopped(const Child& child, std::chrono::milliseconds timeout) {
  return wait_until([&] { return process_state(child.pid()) == 'T'; }, timeout);
}

/// Waits for `child` to exit; its exit code (128 + signal when killed), or -1 on timeout.
inline int finish(Child& child, std::chrono::milliseconds timeout) {
  return child.wait(timeout) == -1 ? -1 : child.exit_code();
}

/// The ring as `framering status` sees it, read through this process's own mapping; nullopt
/// while the segment is missing or not yet initialised.
inline std::optional<ring::RingStatus> ring_status(const std::string& instance, const std::string& ring_name = "raw") {
  try {
    return ring::read_status(ring::Segment::open(instance, ring_name));
  } catch (const SegmentError&) {
    return std::nullopt;
  }
}

/// The consumer named `name` in `status`, or nullopt.
inline std::optional<ring::ConsumerStatus> consumer_named(const ring::RingStatus& status, std::string_view name) {
  for (const auto& c : status.consumers) {
    if (c.name == name) return c;
  }
  return std::nullopt;
}

/// Waits until the ring has an active consumer named `name` held by `pid`.
inline bool wait_attached(const std::string& instance, std::string_view name, pid_t pid,
                          std::chrono::milliseconds timeout) {
  return wait_until(
      [&] {
        const auto status = ring_status(instance);
        if (!status) return false;
        const auto c = consumer_named(*status, name);
        return c && c->state == ring::ConsumerState::Active && c->pid == static_cast<std::uint32_t>(pid);
      },
      timeout);
}

}  // namespace framering::test
