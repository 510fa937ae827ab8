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
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <variant>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framering/common/clock.hpp"
#include "framering/common/error.hpp"
#include "framering/common/instance_lock.hpp"
#include "framering/common/ring_status.hpp"
#include "framering/common/segment.hpp"
#include "framering/common/stop_signal.hpp"
#include "framering/common/utc_time.hpp"
#include "framering/supervise/http_server.hpp"
#include "framering/supervise/live_params.hpp"
#include "framering/supervise/run_report.hpp"
#include "framering/supervise/run_service.hpp"
#include "framering/supervise/stage_plan.hpp"
#include "framering/supervise/stage_process.hpp"

namespace framering::supervise {
namespace {

constexpr std::uint64_t kTickNs = 50'000'000;             // supervision loop period
constexpr std::uint64_t kDrainTimeoutNs = 15'000'000'000;  // per stage, at stop
constexpr std::uint64_t kStopTimeoutNs = 10'000'000'000;   // SIGTERM -> SIGKILL
constexpr std::uint64_t kLeftoverWaitNs = 30'000'000'000;  // an earlier run's stages finishing their drain
constexpr std::uint64_t kLossCheckNs = 250'000'000;       // how often the rings' loss counters are compared
constexpr std::uint64_t kLossWindowNs = 5'000'000'000;    // a ring that lost frames this recently is "losing frames"

// A recording started through the API: a `framering record` process supervised like a record
// stage (restarted when it dies, drained at the stop), plus what the API shows of it.
struct ApiRecording {
  RecordingView view;
  StageProcess process;
  StartRecording request;
  std::uint64_t started_ns = 0;
  bool stop_wanted = false;  ///< POST .../stop or its `seconds` ran out: SIGTERM once it holds its place
  bool stop_sent = false;
  bool ended = false;
};

// The rings' loss counters as last seen: a ring whose counters grew lost frames.
struct LossCounters {
  std::uint64_t dropped = 0;
  std::uint64_t source_lost = 0;
  std::uint64_t evictions = 0;
  std::map<std::string, std::uint64_t> consumer_lost;
  std::uint64_t last_loss_ns = 0;  ///< 0 = never seen losing
};

class Supervisor {
 public:
  Supervisor(PipelinePlan plan, RunOptions options, HttpConfig http)
      : plan_(std::move(plan)), options_(std::move(options)), plan_http_(std::move(http)) {
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
    start_http();
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
        if (stage.restart_due(now) && stage.start(now)) post_event("stage_restarted", stage_event(stage));
        if (stage.running()) stage.note_health(now);
      }
      read_controls(now);
      if (http_) {
        handle_commands();
        live_.expire(now);
        supervise_recordings(now);
        watch_losses(now);
        publish();
        live_.deliver();  // after publish(): a client with its answer sees the state it describes
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
                      [](const StageProcess& s) { return !s.running() && !s.restart_pending(); }) &&
          !recorder_active()) {
        end_reason = "every stage has ended";
        break;
      }
      if (now >= next_status_ns) {
        print_status_line(now);
        next_status_ns = now + (tty_ ? 1'000'000'000ULL : 5'000'000'000ULL);
      }
      std::vector<int> control_fds;
      for (const auto& stage : stages_) control_fds.push_back(stage.control_fd());
      // The supervision period, or sooner: a command, or a stage's message on its control channel.
      service_.wait_for_commands(std::chrono::nanoseconds{kTickNs}, control_fds);
    }
    if (tty_) std::fputs("\r\033[K", stderr);
    spdlog::info("run: stopping ({})", end_reason);
    shutdown();
    for (auto& rec : recordings_) {
      if (!rec.ended && !rec.process.running()) finish_recording(rec);
    }
    if (http_) {
      publish();
      live_.close();     // answers the changes still waiting for a stage
      service_.close();  // wakes the event streams, refuses commands
      http_.reset();     // waits for the requests in progress
    }
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
      if (it == stages_.end()) {
        recorder_ended(pid, status);
        continue;
      }
      StageProcess& stage = *it;
      const std::uint64_t now = monotonic_ns();
      live_.ended(stage.name(), pid);
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
            if (!stage.schedule_restart(now)) post_event("stage_given_up", stage_event(stage));
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

  // The stages' control channels: hellos (each stage waits for its welcome before its first
  // frame) and answers to live changes.
  void read_controls(std::uint64_t now) {
    for (auto& stage : stages_) {
      if (stage.running() && !live_.read(stage.name(), stage.pid(), stage.control_fd(), now)) stage.close_control();
    }
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
      read_controls(monotonic_ns());
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
    if (http_) publish();  // the API says "stopping" and refuses new commands (503) from now on
    for (auto& stage : stages_) {
      if (!stage.restart_pending()) continue;
      stage.cancel_restart();
      if (stage.plan().consumes_every()) {
        spdlog::info("run: starting {} at once {}", stage.name(),
                     drained(stage) ? "to end cleanly (it owes no frame, but it was killed)" : "to drain what it owes");
        stage.start(monotonic_ns());
      }
    }
    for (auto& rec : recordings_) {
      if (rec.ended || !rec.process.restart_pending()) continue;
      rec.process.cancel_restart();
      spdlog::info("run: starting recorder {} at once to drain and close its recording", rec.view.id);
      rec.process.start(monotonic_ns());
    }
    std::vector<StageProcess*> order;
    for (auto& stage : stages_) order.push_back(&stage);
    // The API's recorders after the pipeline's stages: their producers have stopped by then.
    for (auto& rec : recordings_) order.push_back(&rec.process);
    for (StageProcess* stage : order) {
      // Again while its process dies during the stop and is to come back (reap() schedules that);
      // bounded by its restart policy, which gives it up after max_restarts deaths in a row.
      do {
        const std::uint64_t deadline = monotonic_ns() + kDrainTimeoutNs;
        while (must_wait_for(*stage) && monotonic_ns() < deadline) {
          reap();
          read_controls(monotonic_ns());  // a stage started to drain waits for its welcome
          if (stage->restart_due(monotonic_ns())) stage->start(monotonic_ns());
          std::this_thread::sleep_for(std::chrono::milliseconds{20});  // polling the rings' cursors
        }
        stage->cancel_restart();
        stop_stage(*stage);
      } while (stage->restart_pending());
    }
  }

  // ---- the HTTP API (http_server.hpp): everything below runs on this, the main, thread --------

  void start_http() {
    const HttpConfig& config = plan_http_;
    if (!options_.http && !config.port) return;
    HttpOptions http;
    if (config.address) http.address = *config.address;
    if (config.port) http.port = *config.port;
    http.token = options_.http_token.value_or(config.token);
    if (!config.recording_roots.empty()) http.recording_roots = config.recording_roots;
    if (config.web_root) http.web_root = *config.web_root;
    if (options_.http) parse_endpoint(*options_.http, "--http", http);
    ::signal(SIGPIPE, SIG_IGN);  // a client that goes away mid-response is an error return, never a signal
    publish();  // before the first request can come: the stages are known from the start
    http_.emplace(std::move(http), plan_.instance, service_);
    const bool v6 = http_->options().address.find(':') != std::string::npos;
    spdlog::info("run: http: listening on http://{}{}{}:{}/{}", v6 ? "[" : "", http_->options().address, v6 ? "]" : "",
                 http_->port(), http_->options().token.empty() ? "" : " (a token is required)");
  }

  nlohmann::json stage_event(const StageProcess& stage) const {
    return {{"stage", stage.name()}, {"restarts", stage.restarts()}, {"pid", stage.running() ? stage.pid() : 0},
            {"last_exit", stage.last_exit()}, {"given_up", stage.given_up()}};
  }

  void post_event(std::string type, nlohmann::json data) {
    if (http_) service_.post_event(std::move(type), std::move(data));
  }

  static std::string state_of(const StageProcess& s) {
    if (s.running()) return "running";
    if (s.given_up()) return "given_up";
    if (s.restart_pending()) return "restarting";
    return "stopped";
  }

  void publish() {
    std::vector<StageView> stages;
    for (const auto& s : stages_) {
      stages.push_back({s.name(), state_of(s), s.restarts(), s.running() ? s.pid() : 0, s.last_exit(), live_.params_of(s.name())});
    }
    std::vector<RecordingView> recordings;
    for (const auto& rec : recordings_) {
      RecordingView v = rec.view;
      v.pid = rec.process.running() ? rec.process.pid() : 0;
      v.restarts = rec.process.restarts();
      recordings.push_back(std::move(v));
    }
    service_.publish(std::move(stages), std::move(recordings), stopping_, live_.settings());
  }

  bool recorder_active() const {
    return std::any_of(recordings_.begin(), recordings_.end(), [](const ApiRecording& r) { return !r.ended; });
  }

  void handle_commands() {
    for (auto& command : service_.take_commands()) {
      if (const auto* patch = std::get_if<PatchParams>(&command.what)) {  // answered when the stage has
        const auto stage = std::find_if(stages_.begin(), stages_.end(),
                                        [&](const StageProcess& s) { return s.name() == patch->stage; });
        if (stage == stages_.end()) {
          command.reply.set_value({404, {{"error", fmt::format("no stage named '{}' in this pipeline", patch->stage)}}});
        } else {
          live_.patch(*patch, stage->running() ? stage->pid() : 0, stage->running() ? stage->control_fd() : -1,
                      std::move(command.reply), monotonic_ns());
        }
        continue;
      }
      Reply reply;
      try {
        reply = std::visit([this](auto& what) { return execute(what); }, command.what);
      } catch (const std::exception& e) {
        reply = {500, {{"error", e.what()}}};
      }
      command.reply.set_value(std::move(reply));
    }
  }

  static std::string new_recording_id() {
    std::random_device random;
    return fmt::format("rec-{:08x}", static_cast<std::uint32_t>(random()));
  }

  // Whether `ring` lost frames within kLossWindowNs, or has an evicted every consumer now: a
  // recording started now would begin on a ring already losing frames.
  std::string losing_frames(const ring::RingStatus& ring) const {
    for (const auto& c : ring.consumers) {
      if (c.state == ring::ConsumerState::Evicted) return fmt::format("its consumer {} is evicted", c.name);
    }
    const auto it = losses_.find(ring.ring);
    if (it != losses_.end() && it->second.last_loss_ns != 0 && monotonic_ns() - it->second.last_loss_ns < kLossWindowNs) {
      return fmt::format("it lost frames in the last {} s (dropped {}, source lost {}, evictions {})",
                         kLossWindowNs / 1'000'000'000, ring.frames_dropped, ring.source.frames_lost, ring.evictions);
    }
    return "";
  }

  Reply execute(const StartRecording& request) {
    const std::vector<std::string> rings = plan_.rings();
    if (std::find(rings.begin(), rings.end(), request.ring) == rings.end()) {
      return {422, {{"error", fmt::format("field 'ring': '{}' is not a ring of this pipeline (its rings: {})", request.ring,
                                          fmt::join(rings, ", "))}, {"field", "ring"}}};
    }
    std::optional<ring::RingStatus> status;
    try {
      status = ring::read_status(ring::Segment::open(plan_.instance, request.ring));
    } catch (const Error&) {
    }
    if (!status || !status->producer_alive) {
      return {409, {{"error", fmt::format("ring '{}' is not running: no live producer", request.ring)}}};
    }
    if (const std::string losing = losing_frames(*status); !losing.empty() && !request.force) {
      return {409, {{"error", fmt::format("ring '{}' is losing frames ({}): a recording started now would not be whole; "
                                          "send \"force\": true to start it anyway", request.ring, losing)}}};
    }
    const std::filesystem::path path = std::filesystem::path(request.root) / request.name;
    std::error_code ec;
    const bool taken = std::any_of(recordings_.begin(), recordings_.end(), [&](const ApiRecording& r) {
      return r.view.root == request.root && r.view.name == request.name;
    });
    if (taken || std::filesystem::exists(path, ec)) {
      return {409, {{"error", fmt::format("field 'name': a recording '{}' exists already in {}", request.name,
                                          request.root)}, {"field", "name"}}};
    }
    std::string id = new_recording_id();
    while (std::any_of(recordings_.begin(), recordings_.end(), [&](const ApiRecording& r) { return r.view.id == id; })) {
      id = new_recording_id();
    }
    StagePlan p;
    p.name = id;
    p.program = options_.executable;
    p.argv = {"framering", "record", "--ring", request.ring, "--name", id, "--dest", request.root, "--recording",
              request.name};
    if (request.frames > 0) p.argv.insert(p.argv.end(), {"--frames", std::to_string(request.frames)});
    if (request.fail_on_drop) p.argv.emplace_back("--fail-on-drop");
    if (request.stall_timeout_s > 0) p.argv.insert(p.argv.end(), {"--stall-timeout-s", fmt::format("{}", request.stall_timeout_s)});
    p.rings = {{.ring = request.ring, .role = RingRole::ConsumesEvery, .dead_timeout = std::chrono::milliseconds{5000}}};
    p.env = {{kStageEnvInstance, plan_.instance}, {kStageEnvName, id}, {kStageEnvLogLevel, options_.log_level},
             {kStageEnvProduces, ""}, {kStageEnvConsumes, request.ring + ":every"}};
    p.backoff_max_ms = std::min<std::uint32_t>(plan_.restart.backoff_max_ms, 5000 / 4);
    RecordingView view{.id = id,
                       .name = request.name,
                       .ring = request.ring,
                       .root = request.root,
                       .path = path.string(),
                       .state = "recording",
                       .frames_wanted = request.frames,
                       .seconds = request.seconds,
                       .on_drop = request.fail_on_drop ? "fail" : "continue",
                       .pid = 0,
                       .restarts = 0,
                       .started_utc = utc_now(),
                       .result = nullptr};
    ApiRecording& rec = recordings_.emplace_back(ApiRecording{view, StageProcess(std::move(p), plan_.restart), request});
    rec.started_ns = monotonic_ns();
    if (!rec.process.start(rec.started_ns)) {
      rec.ended = true;
      rec.view.state = "failed";
      rec.view.result = {{"verdict", "unknown"}, {"error", rec.process.last_exit()}};
      return {500, {{"error", fmt::format("cannot start the recorder: {}", rec.process.last_exit())}}};
    }
    spdlog::info("run: http: recording {} started: ring {} into {}{}", id, request.ring, path.string(),
                 request.frames > 0 ? fmt::format(", {} frames", request.frames)
                 : request.seconds > 0 ? fmt::format(", {} s", request.seconds) : ", until stopped");
    post_event("recording_started", {{"id", id}, {"name", request.name}, {"ring", request.ring}, {"path", path.string()}});
    publish();
    return {201, {{"id", id}, {"state", rec.view.state}, {"path", rec.view.path}, {"name", request.name},
                  {"ring", request.ring}}};
  }

  Reply execute(const PatchParams&) { return {500, {{"error", "a PATCH goes to handle_commands' own path"}}}; }

  Reply execute(const StopRecording& request) {
    for (auto& rec : recordings_) {
      if (rec.view.id != request.id) continue;
      if (rec.ended) {
        return {409, {{"error", fmt::format("recording {} has already ended ({})", rec.view.id, rec.view.state)},
                      {"state", rec.view.state}}};
      }
      if (!rec.stop_wanted) spdlog::info("run: http: stopping recording {} (it drains, then closes)", rec.view.id);
      rec.stop_wanted = true;
      rec.view.state = "stopping";
      supervise_recordings(monotonic_ns());
      publish();
      return {202, {{"id", rec.view.id}, {"state", rec.view.state}}};
    }
    return {404, {{"error", fmt::format("no recording with id '{}'", request.id)}}};
  }

  // Restarts due, time limits, and the stop: SIGTERM once the recorder holds its place on the
  // ring (a SIGTERM before its stop handlers exist would kill it with its files open). One that
  // is waiting out a restart delay when asked to stop is started at once, to drain and close.
  void supervise_recordings(std::uint64_t now) {
    for (auto& rec : recordings_) {
      if (rec.ended) continue;
      // `now` is the loop turn's time: a recording started by a command in the same turn has a
      // later started_ns (without this check the difference wrapped and stopped it at once).
      if (rec.request.seconds > 0 && !rec.stop_wanted && now >= rec.started_ns &&
          now - rec.started_ns >= static_cast<std::uint64_t>(rec.request.seconds * 1e9)) {
        rec.stop_wanted = true;
        rec.view.state = "stopping";
      }
      if (rec.process.restart_due(now) || (rec.stop_wanted && rec.process.restart_pending())) {
        restart_recorder(rec, now);
      }
      if (rec.stop_wanted && !rec.stop_sent && rec.process.running() && attached(rec.process)) {
        rec.stop_sent = true;
        stop_signal_sent_[rec.process.pid()] = SIGTERM;
        rec.process.signal(SIGTERM);
      }
    }
  }

  // A recorder bounded by frames resumes its recording for the frames still missing (record's
  // --frames counts one process's frames).
  void restart_recorder(ApiRecording& rec, std::uint64_t now) {
    if (rec.request.frames > 0) {
      std::uint64_t done = 0;
      std::ifstream index(std::filesystem::path(rec.view.path) / "index.csv");
      for (std::string line; std::getline(index, line);) {
        if (!line.empty() && line.front() != '#' && line.front() != 'p') ++done;  // 'p': the header row
      }
      auto& argv = rec.process.plan().argv;
      const auto it = std::find(argv.begin(), argv.end(), "--frames");
      if (it != argv.end() && it + 1 != argv.end()) {
        *(it + 1) = std::to_string(rec.request.frames > done ? rec.request.frames - done : 1);
      }
    }
    if (rec.process.start(now)) post_event("stage_restarted", stage_event(rec.process));
  }

  // The recorder process `pid` ended (`status` from waitpid); nothing when it is none of them.
  void recorder_ended(pid_t pid, int status) {
    for (auto& rec : recordings_) {
      if (!rec.process.running() || rec.process.pid() != pid) continue;
      const std::uint64_t now = monotonic_ns();
      const auto end = rec.process.ended(status, now);
      spdlog::log(end == StageProcess::End::Finished && rec.process.last_exit() == "exit code 0" ? spdlog::level::info
                                                                                                 : spdlog::level::warn,
                  "run: recorder {} (pid {}) ended: {}", rec.view.id, pid, rec.process.last_exit());
      if (end == StageProcess::End::Died && !died_of_our_stop(pid, status)) {
        // A crash (anything but the signal a stop sent this process): restarted like a record
        // stage (it resumes its recording); at the stop, at once.
        if (rec.process.schedule_restart(now, stopping_)) return;
        post_event("stage_given_up", stage_event(rec.process));
      }
      finish_recording(rec);
      return;
    }
  }

  // Its result, from the manifest its recorder wrote at close.
  void finish_recording(ApiRecording& rec) {
    rec.ended = true;
    nlohmann::json result = {{"exit", rec.process.last_exit()}};
    std::ifstream in(std::filesystem::path(rec.view.path) / "manifest.json");
    nlohmann::json manifest;
    try {
      if (in) manifest = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception&) {
      manifest = nullptr;
    }
    const bool exited = rec.process.last_exit() == "exit code 0" || rec.process.last_exit() == "exit code 3";
    if (manifest.is_object()) {
      for (const char* key : {"frames_recorded", "frames_published", "frames_lost", "source_frames_lost",
                              "first_sequence", "last_sequence", "complete", "stop"}) {
        if (manifest.contains(key)) result[key] = manifest[key];
      }
      result["gaps"] = manifest.value("gaps", nlohmann::json::array()).size();
      const bool complete = manifest.value("complete", false);
      result["verdict"] = complete ? "complete" : "incomplete";
      const std::string reason = manifest.contains("stop") && manifest["stop"].is_object()
                                     ? manifest["stop"].value("reason", "")
                                     : "";
      rec.view.state = exited && reason != "drop" && reason != "error" ? "finished" : "failed";
    } else {
      result["verdict"] = "unknown";
      result["error"] = "the recorder left no manifest.json: see the run's log";
      rec.view.state = "failed";
    }
    rec.view.result = result;
    spdlog::info("run: http: recording {} {}: {} frames, verdict {}", rec.view.id, rec.view.state,
                 result.value("frames_recorded", nlohmann::json(0)).dump(), result["verdict"].get<std::string>());
    post_event("recording_finished", {{"id", rec.view.id}, {"state", rec.view.state}, {"verdict", result["verdict"]},
                                      {"frames", result.value("frames_recorded", nlohmann::json(0))},
                                      {"lost", result.value("frames_lost", nlohmann::json(0))}});
    publish();
  }

  // Compares the rings' loss counters with the last look; growth is a "loss" event and makes the
  // ring "losing frames" for kLossWindowNs.
  void watch_losses(std::uint64_t now) {
    if (now < next_loss_check_ns_) return;
    next_loss_check_ns_ = now + kLossCheckNs;
    for (const auto& ring : read_rings(false)) {
      auto [it, first_look] = losses_.try_emplace(ring.ring);
      LossCounters& seen = it->second;
      nlohmann::json what = nlohmann::json::object();
      if (!first_look) {
        if (ring.frames_dropped > seen.dropped) what["dropped"] = ring.frames_dropped - seen.dropped;
        if (ring.source.frames_lost > seen.source_lost) what["source_lost"] = ring.source.frames_lost - seen.source_lost;
        if (ring.evictions > seen.evictions) what["evictions"] = ring.evictions - seen.evictions;
      }
      seen.dropped = ring.frames_dropped;
      seen.source_lost = ring.source.frames_lost;
      seen.evictions = ring.evictions;
      for (const auto& c : ring.consumers) {
        auto [cit, new_consumer] = seen.consumer_lost.try_emplace(c.name, c.frames_lost);
        if (!new_consumer && c.frames_lost > cit->second) what["lost"][c.name] = c.frames_lost - cit->second;
        cit->second = c.frames_lost;
      }
      if (!what.empty()) {
        seen.last_loss_ns = now;
        what["ring"] = ring.ring;
        post_event("loss", what);
      }
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
  HttpConfig plan_http_;
  std::vector<StageProcess> stages_;
  RunService service_;
  std::optional<HttpServer> http_;  ///< after service_: destroyed first
  LiveParams live_{[this](std::string type, nlohmann::json data) { post_event(std::move(type), std::move(data)); }};
  std::deque<ApiRecording> recordings_;  ///< a deque: references stay valid as recordings are added
  std::map<std::string, LossCounters> losses_;
  std::uint64_t next_loss_check_ns_ = 0;
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
  if (options.http) {
    HttpOptions checked;
    parse_endpoint(*options.http, "--http", checked);  // a typo fails before anything starts, --dry-run too
  }
  PipelinePlan plan = make_plan(config, {.frames = options.frames, .log_level = options.log_level,
                                         .executable = options.executable});
  if (options.dry_run) {
    std::fputs(describe(plan).c_str(), stdout);
    return 0;
  }
  Supervisor supervisor(std::move(plan), options, config.http);
  return supervisor.run();
}

}  // namespace framering::supervise
