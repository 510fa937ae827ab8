// supervisor.cpp: `framering run`'s loop: take the instance, adopt what an earlier run left,
// start every stage, restart the ones that die, stop them all in order without leaving frames
// that an every consumer owes unaccounted for, and report. The plan (stage_plan.cpp), each
// stage's process (stage_process.cpp) and the report (run_report.cpp) live in their own files.
#include "framering/supervise/supervisor.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framering/common/clock.hpp"
#include "framering/common/error.hpp"
#include "framering/common/instance_lock.hpp"
#include "framering/common/ring_status.hpp"
#include "framering/common/segment.hpp"
#include "framering/common/stop_signal.hpp"
#include "framering/supervise/run_report.hpp"
#include "framering/supervise/stage_plan.hpp"
#include "framering/supervise/stage_process.hpp"

namespace framering::supervise {
namespace {

constexpr std::uint64_t kTickNs = 50'000'000;             // supervision loop period
constexpr std::uint64_t kDrainTimeoutNs = 15'000'000'000;  // per stage, at stop
constexpr std::uint64_t kStopTimeoutNs = 10'000'000'000;   // SIGTERM -> SIGKILL
constexpr std::uint64_t kLeftoverWaitNs = 30'000'000'000;  // an earlier run's stages finishing their drain

class Supervisor {
 public:
  Supervisor(PipelinePlan plan, RunOptions options) : plan_(std::move(plan)), options_(std::move(options)) {
    for (const auto& stage : plan_.stages) stages_.emplace_back(stage, plan_.restart);
  }

  int run() {
    auto lock = ring::InstanceLock::try_acquire(plan_.instance);
    if (!lock) {
      throw ConfigError(fmt::format("instance '{}' is already running under another `framering run`{} (it holds {}): stop it "
                                    "or choose another --instance",
                                    plan_.instance, lock.error() > 0 ? fmt::format(" (pid {})", lock.error()) : "",
                                    ring::instance_lock_path(plan_.instance)));
    }
    install_stop_handlers();
    adopt_leftover_rings();
    tty_ = ::isatty(STDERR_FILENO) != 0;
    start_ns_ = monotonic_ns();
    spdlog::info("run: pipeline {} on instance {}: {} stages{}", plan_.source, plan_.instance, stages_.size(),
                 options_.frames > 0 ? fmt::format(", {} frames", options_.frames)
                 : options_.duration_s > 0 ? fmt::format(", {} s", options_.duration_s) : ", until Ctrl-C");
    for (auto& stage : stages_) stage.start(monotonic_ns());

    std::uint64_t next_status_ns = start_ns_ + 1'000'000'000;
    std::string end_reason = "stopped by signal";
    while (!stop_requested()) {
      reap();
      if (could_not_start_) {
        end_reason = "a stage could not start";
        break;
      }
      const std::uint64_t now = monotonic_ns();
      for (auto& stage : stages_) {
        if (stage.restart_due(now)) stage.start(now);
        if (stage.running()) stage.note_health(now);
      }
      if (options_.duration_s > 0 && now - start_ns_ >= static_cast<std::uint64_t>(options_.duration_s * 1e9)) {
        end_reason = fmt::format("duration of {} s reached", options_.duration_s);
        break;
      }
      if (options_.frames > 0 && sources_done()) {
        end_reason = fmt::format("{} frames acquired", options_.frames);
        break;
      }
      if (std::all_of(stages_.begin(), stages_.end(),
                      [](const StageProcess& s) { return !s.running() && !s.restart_pending(); })) {
        end_reason = "every stage has ended";
        break;
      }
      if (now >= next_status_ns) {
        print_status_line(now);
        next_status_ns = now + (tty_ ? 1'000'000'000ULL : 5'000'000'000ULL);
      }
      std::this_thread::sleep_for(std::chrono::nanoseconds{kTickNs});  // the supervision period
    }
    if (tty_) std::fputs("\r\033[K", stderr);
    spdlog::info("run: stopping ({})", end_reason);
    shutdown();
    return finish();
  }

 private:
  // Rings of this instance from an earlier run. A live process on one is a stage of a run that
  // died (PR_SET_PDEATHSIG sent it SIGTERM; it is draining) or one started by hand: wait for it.
  // Then keep every ring this pipeline uses, so that its producer continues the sequence and
  // each every consumer resumes at its cursor (an incompatible one is replaced by its producer,
  // RingWriter::create_or_attach, which names what it drops); remove the others unless an every
  // consumer is still owed frames there.
  void adopt_leftover_rings() {
    const std::vector<std::string> used = plan_.rings();
    const std::uint64_t deadline = monotonic_ns() + kLeftoverWaitNs;
    bool said = false;
    for (const auto& ring_name : ring::Segment::list_rings(plan_.instance)) {
      std::optional<ring::Segment> segment;
      try {
        segment.emplace(ring::Segment::open(plan_.instance, ring_name));
      } catch (const SegmentError& e) {
        spdlog::warn("run: removing unreadable leftover ring {}: {}", ring_name, e.what());
        ring::Segment::remove(plan_.instance, ring_name);
        continue;
      }
      while (segment->has_live_participant()) {
        if (monotonic_ns() >= deadline || stop_requested()) {
          throw ConfigError(fmt::format("instance '{}' has live processes on ring {} that no `framering run` "
                                        "supervises (`framering status --instance {}` shows them): stop them or "
                                        "choose another --instance",
                                        plan_.instance, ring_name, plan_.instance));
        }
        if (!said) {
          spdlog::info("run: waiting for the processes of an earlier run of instance {} to finish (ring {})",
                       plan_.instance, ring_name);
          said = true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{50});  // polling other processes' exits
      }
      const ring::RingStatus status = ring::read_status(*segment, false);
      const std::vector<Unrecorded> owed = unrecorded_frames({status});
      std::string owed_text;
      for (const auto& u : owed) {
        owed_text += fmt::format("; consumer {} {} frames [{}, {}]", u.consumer, u.held ? "is owed" : "lost", u.first,
                                 u.last);
      }
      if (std::find(used.begin(), used.end(), ring_name) != used.end()) {
        spdlog::info("run: continuing ring {} of an earlier run ({}, {} frames published){}", ring_name,
                     describe_header(segment->header()), status.published, owed_text);
      } else if (std::any_of(owed.begin(), owed.end(), [](const Unrecorded& u) { return u.held; })) {
        spdlog::warn("run: keeping ring {} of an earlier run, which this pipeline does not use{}", ring_name, owed_text);
      } else {
        spdlog::info("run: removing ring {} of an earlier run, which this pipeline does not use", ring_name);
        ring::Segment::remove(plan_.instance, ring_name);
      }
    }
  }

  void reap() {
    int status = 0;
    pid_t pid = 0;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      auto it = std::find_if(stages_.begin(), stages_.end(),
                             [&](const StageProcess& s) { return s.running() && s.pid() == pid; });
      if (it == stages_.end()) continue;
      StageProcess& stage = *it;
      const std::uint64_t now = monotonic_ns();
      switch (stage.ended(status, now)) {
        case StageProcess::End::Finished:
          spdlog::log(stage.last_exit() == "exit code 0" ? spdlog::level::info : spdlog::level::warn,
                      "run: {} (pid {}) finished{}", stage.name(), pid,
                      stage.last_exit() == "exit code 0" ? "" : " (exit code 3: it lost frames)");
          break;
        case StageProcess::End::CouldNotStart:
          spdlog::error("run: {} could not start ({}); see its message above", stage.name(), stage.last_exit());
          if (!stopping_) could_not_start_ = true;
          break;
        case StageProcess::End::Died:
          spdlog::error("run: {} (pid {}) died: {}", stage.name(), pid, stage.last_exit());
          // While stopping, only an every consumer comes back (at once), unless it died of the
          // signal our stop sent that very process: to drain what it owes, and even when it owes
          // nothing, to close what it writes (a recorder killed after taking every frame still has
          // a recording to close). A death the stop did not cause counts, even one reaped after
          // the stop signalled it: a process killed by someone else is not reapable until its
          // last thread has exited (found when a recorder with an I/O thread was SIGKILLed just
          // before a stop: it was reaped only after our SIGTERM, and its recording stayed open).
          if (!stopping_) {
            stage.schedule_restart(now);
          } else if (stage.plan().consumes_every() && !died_of_our_stop(pid, status)) {
            spdlog::info("run: starting {} at once {}", stage.name(),
                         drained(stage) ? "to end cleanly (it owes no frame, but it died)" : "to drain what it owes");
            stage.schedule_restart(now, true);
          }
          break;
      }
    }
  }

  // Whether `pid` ended by a signal the stop sent it (SIGTERM before its handlers existed, or
  // the SIGKILL after kStopTimeoutNs), as opposed to a crash or someone else's kill.
  bool died_of_our_stop(pid_t pid, int status) const {
    const auto it = stop_signal_sent_.find(pid);
    return it != stop_signal_sent_.end() && WIFSIGNALED(status) && WTERMSIG(status) == it->second;
  }

  bool sources_done() const {
    bool any = false;
    for (const auto& s : stages_) {
      if (!s.plan().is_source()) continue;
      any = true;
      if (!s.finished() && !s.given_up()) return false;
    }
    return any;
  }

  std::vector<ring::RingStatus> read_rings(bool include_detached) const {
    std::vector<ring::RingStatus> rings;
    for (const auto& name : ring::Segment::list_rings(plan_.instance)) {
      try {
        rings.push_back(ring::read_status(ring::Segment::open(plan_.instance, name), include_detached));
      } catch (const Error&) {
        // a ring being created right now: next time
      }
    }
    return rings;
  }

  // Whether `stage` has taken every frame published on each ring it consumes as every consumer
  // (its entry is found by its name; an evicted or absent entry owes nothing it can still take).
  bool drained(const StageProcess& stage) const {
    if (!stage.plan().consumes_every()) return true;
    const auto rings = read_rings(false);
    for (const auto& use : stage.plan().rings) {
      if (use.role != RingRole::ConsumesEvery) continue;
      for (const auto& ring : rings) {
        if (ring.ring != use.ring) continue;
        for (const auto& c : ring.consumers) {
          if (c.name == stage.name() && c.state == ring::ConsumerState::Active && c.cursor < ring.published) {
            return false;
          }
        }
      }
    }
    return true;
  }

  // Whether the running process of `stage` holds its entry on every ring it consumes as every
  // consumer (by then it has its stop handlers: a SIGTERM makes it drain and close).
  bool attached(const StageProcess& stage) const {
    if (!stage.running()) return false;
    const auto rings = read_rings(false);
    for (const auto& use : stage.plan().rings) {
      if (use.role != RingRole::ConsumesEvery) continue;
      const bool holds = std::any_of(rings.begin(), rings.end(), [&](const ring::RingStatus& ring) {
        return ring.ring == use.ring && std::any_of(ring.consumers.begin(), ring.consumers.end(), [&](const auto& c) {
                 return c.name == stage.name() && c.alive && c.pid == static_cast<std::uint32_t>(stage.pid());
               });
      });
      if (!holds) return false;
    }
    return true;
  }

  // Whether the stop must still wait before stopping `stage`, an every consumer: it owes frames,
  // its restart is due, or the process started during the stop has not yet taken its place (a
  // SIGTERM before its stop handlers exist would kill it with what it writes left open).
  bool must_wait_for(const StageProcess& stage) const {
    if (!stage.plan().consumes_every()) return false;
    if (stage.restart_pending()) return true;
    if (!stage.running()) return false;
    return !drained(stage) || (stage.started_ns() >= end_ns_ && !attached(stage));
  }

  void stop_stage(StageProcess& stage) {
    if (!stage.running()) return;
    stop_signal_sent_[stage.pid()] = SIGTERM;
    stage.signal(SIGTERM);
    const std::uint64_t deadline = monotonic_ns() + kStopTimeoutNs;
    while (stage.running() && monotonic_ns() < deadline) {
      reap();
      if (stage.running()) std::this_thread::sleep_for(std::chrono::milliseconds{10});  // polling waitpid
    }
    if (stage.running()) {
      spdlog::warn("run: {} (pid {}) did not stop within {} s of SIGTERM: SIGKILL", stage.name(), stage.pid(),
                   kStopTimeoutNs / 1'000'000'000);
      stop_signal_sent_[stage.pid()] = SIGKILL;
      stage.signal(SIGKILL);
      while (stage.running()) {
        reap();
        if (stage.running()) std::this_thread::sleep_for(std::chrono::milliseconds{10});  // polling waitpid
      }
    }
  }

  // Stops the stages in file order (producers come first in a pipeline file). A stage that
  // consumes a ring as every consumer is stopped only once it has taken everything published
  // there: if it is dead (waiting out a restart delay, or dying now) it is restarted at once, to
  // drain, or, owing nothing, to end cleanly (close what it writes), and stopped once it holds
  // its place on the ring; what it still owes at the end is accounted for by finish(). Bounded
  // by kDrainTimeoutNs per stage.
  void shutdown() {
    stopping_ = true;
    end_ns_ = monotonic_ns();
    for (auto& stage : stages_) {
      if (!stage.restart_pending()) continue;
      stage.cancel_restart();
      if (stage.plan().consumes_every()) {
        spdlog::info("run: starting {} at once {}", stage.name(),
                     drained(stage) ? "to end cleanly (it owes no frame, but it was killed)" : "to drain what it owes");
        stage.start(monotonic_ns());
      }
    }
    for (auto& stage : stages_) {
      // Again while its process dies during the stop and is to come back (reap() schedules that);
      // bounded by its restart policy, which gives it up after max_restarts deaths in a row.
      do {
        const std::uint64_t deadline = monotonic_ns() + kDrainTimeoutNs;
        while (must_wait_for(stage) && monotonic_ns() < deadline) {
          reap();
          if (stage.restart_due(monotonic_ns())) stage.start(monotonic_ns());
          std::this_thread::sleep_for(std::chrono::milliseconds{20});  // polling the rings' cursors
        }
        stage.cancel_restart();
        stop_stage(stage);
      } while (stage.restart_pending());
    }
  }

  void print_status_line(std::uint64_t now) {
    const auto rings = read_rings(false);
    const double elapsed = static_cast<double>(now - start_ns_) / 1e9;
    double fraction = -1;
    if (options_.duration_s > 0) fraction = elapsed / options_.duration_s;
    if (options_.frames > 0) {
      std::uint64_t published = 0;
      for (const auto& stage : stages_) {
        if (!stage.plan().is_source()) continue;
        for (const auto& ring : rings) {
          for (const auto& use : stage.plan().rings) {
            if (use.ring == ring.ring) published = std::max(published, ring.published);
          }
        }
      }
      fraction = static_cast<double>(published) / static_cast<double>(options_.frames);
    }
    const std::string line = status_line(stages_, rings, elapsed, fraction);
    if (tty_) {
      std::fprintf(stderr, "\r\033[K%s", line.c_str());
    } else {
      std::fprintf(stderr, "%s\n", line.c_str());
    }
    std::fflush(stderr);
  }

  int finish() {
    const auto rings = read_rings(true);
    const std::vector<Unrecorded> unrecorded = unrecorded_frames(rings);
    const double elapsed_s = static_cast<double>(end_ns_ - start_ns_) / 1e9;
    const RunSummary summary =
        summarize_run(plan_.instance, plan_.source, elapsed_s, stages_, rings, unrecorded, could_not_start_);
    std::fputs(summary.text.c_str(), stderr);
    if (!options_.summary_json.empty()) {
      std::ofstream out(options_.summary_json);
      out << summary.json.dump(2) << '\n';
      if (!out) spdlog::error("run: cannot write the summary to {}", options_.summary_json);
    }
    for (const auto& ring : rings) {
      const bool holds_owed = std::any_of(unrecorded.begin(), unrecorded.end(), [&](const Unrecorded& u) {
        return u.held && u.ring == ring.ring;
      });
      if (holds_owed) {
        spdlog::warn("run: keeping ring {} ({}): it holds frames an every consumer never took; `framering run` with "
                     "the same pipeline resumes them",
                     ring.ring, ring.segment);
      } else if (!options_.keep_rings) {
        ring::Segment::remove(plan_.instance, ring.ring);
      }
    }
    return summary.exit_code;
  }

  PipelinePlan plan_;
  RunOptions options_;
  std::vector<StageProcess> stages_;
  bool tty_ = false;
  bool stopping_ = false;
  bool could_not_start_ = false;
  /// Processes the stop signalled, and the signal: their death by it is no crash to restart.
  std::map<pid_t, int> stop_signal_sent_;
  std::uint64_t start_ns_ = 0;
  std::uint64_t end_ns_ = 0;
};

}  // namespace

int run_pipeline(const RunOptions& options, const StageParserFactory& stages) {
  PipelineConfig config = options.config_path.empty()
                              ? parse_pipeline(embedded_default_config(), "embedded:config/default.toml", stages)
                              : load_pipeline(options.config_path, stages);
  if (options.instance) config.instance = *options.instance;
  ring::Segment::validate_name("instance", config.instance);
  PipelinePlan plan = make_plan(config, {.frames = options.frames, .log_level = options.log_level,
                                         .executable = options.executable});
  if (options.dry_run) {
    std::fputs(describe(plan).c_str(), stdout);
    return 0;
  }
  Supervisor supervisor(std::move(plan), options);
  return supervisor.run();
}

}  // namespace framering::supervise
