#include "framering/supervise/supervisor.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "framering/common/clock.hpp"
#include "framering/common/error.hpp"
#include "framering/common/ring_status.hpp"
#include "framering/common/segment.hpp"
#include "framering/common/stop_signal.hpp"


namespace framering::supervise {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t kTickNs = 50'000'000;            // supervision loop period
constexpr std::uint64_t kStartFailureWindowNs = 3'000'000'000;  // exit 2 this soon after the first start: could not start
constexpr std::uint64_t kDrainTimeoutNs = 15'000'000'000;
constexpr std::uint64_t kStopTimeoutNs = 10'000'000'000;

struct Stage {
  StageConfig config;
  std::vector<std::string> argv;
  pid_t pid = 0;
  std::set<pid_t> pids;  ///< every pid it ever had: ring producers are attributed by pid
  bool running = false;
  bool finished = false;  ///< exited 0 on its own
  bool given_up = false;
  std::uint32_t restarts = 0;
  std::uint32_t starts = 0;
  std::uint64_t started_ns = 0;
  std::uint64_t restart_at_ns = 0;  ///< > 0: a restart is scheduled
  std::string last_exit = "running";
};

std::string describe_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exit code {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("signal {} ({})", WTERMSIG(status), ::strsignal(WTERMSIG(status)));
  return fmt::format("status {}", status);
}

bool has_option(const StageParserFactory& stages, const std::string& run, const std::string& option) {
  CLI::App app{"framering"};
  std::function<int()> action;
  stages(app, action);
  return app.get_subcommand(run)->get_option_no_throw(option) != nullptr;
}

bool args_have(const std::vector<std::string>& args, const std::string& option) {
  return std::any_of(args.begin(), args.end(), [&](const std::string& a) {
    return a == option || a.starts_with(option + "=");
  });
}

// The value of `option` in `args`, else its default in the stage's parser, else "".
std::string option_value(const StageParserFactory& stages, const std::string& run, const std::vector<std::string>& args,
                         const std::string& option) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == option && i + 1 < args.size()) return args[i + 1];
    if (args[i].starts_with(option + "=")) return args[i].substr(option.size() + 1);
  }
  CLI::App app{"framering"};
  std::function<int()> action;
  stages(app, action);
  const auto* opt = app.get_subcommand(run)->get_option_no_throw(option);
  return opt != nullptr ? opt->get_default_str() : std::string{};
}

// Which rings a stage produces and consumes, by the options each stage command names them with.
struct RingRoles {
  std::vector<std::string> produces;
  std::vector<std::string> consumes;
};

RingRoles ring_roles(const StageParserFactory& stages, const StageConfig& stage) {
  RingRoles roles;
  auto value = [&](const std::string& option) { return option_value(stages, stage.run, stage.args, option); };
  if (stage.run == "acquire") {
    roles.produces.push_back(value("--ring"));
  } else if (stage.run == "process") {
    roles.consumes.push_back(value("--input-ring"));
    roles.produces.push_back(value("--output-ring"));
  } else if (has_option(stages, stage.run, "--ring")) {
    roles.consumes.push_back(value("--ring"));
  }
  return roles;
}

class Supervisor {
 public:
  Supervisor(PipelineConfig config, RunOptions options, const StageParserFactory& factory)
      : config_(std::move(config)), options_(std::move(options)) {
    if (options_.instance) config_.instance = *options_.instance;
    ring::Segment::validate_name("instance", config_.instance);
    for (const auto& sc : config_.stages) {
      Stage stage;
      stage.config = sc;
      stage.argv = {"framering", sc.run};
      stage.argv.insert(stage.argv.end(), sc.args.begin(), sc.args.end());
      stage.argv.insert(stage.argv.end(), {"--instance", config_.instance, "--log-level", options_.log_level});
      if (!args_have(sc.args, "--name") && has_option(factory, sc.run, "--name")) {
        stage.argv.insert(stage.argv.end(), {"--name", sc.name});
      }
      if (options_.frames > 0 && sc.run == "acquire" && !args_have(sc.args, "--frames")) {
        stage.argv.insert(stage.argv.end(), {"--frames", std::to_string(options_.frames)});
      }
      stages_.push_back(std::move(stage));
    }
    // A producer publishes nothing until the pipeline's consumers of its ring are attached, so
    // that a bounded run loses no first frames to a consumer still starting up.
    std::map<std::string, std::uint32_t> consumers_of;
    for (const auto& stage : stages_) {
      for (const auto& ring_name : ring_roles(factory, stage.config).consumes) ++consumers_of[ring_name];
    }
    for (auto& stage : stages_) {
      if (args_have(stage.config.args, "--wait-for-consumers") ||
          !has_option(factory, stage.config.run, "--wait-for-consumers")) {
        continue;
      }
      std::uint32_t count = 0;
      for (const auto& ring_name : ring_roles(factory, stage.config).produces) count += consumers_of[ring_name];
      if (count > 0) stage.argv.insert(stage.argv.end(), {"--wait-for-consumers", std::to_string(count)});
    }
  }

  void print_plan() const {
    fmt::print("pipeline {} (instance {}), {} stages:\n", config_.source, config_.instance, stages_.size());
    for (const auto& s : stages_) fmt::print("  {}: {}\n", s.config.name, fmt::join(s.argv, " "));
  }

  int run() {
    refuse_if_running();
    install_stop_handlers();
    tty_ = ::isatty(STDERR_FILENO) != 0;
    start_ns_ = monotonic_ns();
    spdlog::info("run: pipeline {} on instance {}: {} stages{}", config_.source, config_.instance, stages_.size(),
                 options_.frames > 0 ? fmt::format(", {} frames", options_.frames)
                 : options_.duration_s > 0 ? fmt::format(", {} s", options_.duration_s) : ", until Ctrl-C");
    for (auto& stage : stages_) spawn(stage);

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
        if (stage.restart_at_ns != 0 && now >= stage.restart_at_ns) spawn(stage);
      }
      if (options_.duration_s > 0 && now - start_ns_ >= static_cast<std::uint64_t>(options_.duration_s * 1e9)) {
        end_reason = fmt::format("duration of {} s reached", options_.duration_s);
        break;
      }
      if (options_.frames > 0 && producers_done()) {
        end_reason = fmt::format("{} frames acquired", options_.frames);
        break;
      }
      if (std::all_of(stages_.begin(), stages_.end(), [](const Stage& s) { return !s.running && s.restart_at_ns == 0; })) {
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
  void refuse_if_running() {
    for (const auto& ring_name : ring::Segment::list_rings(config_.instance)) {
      try {
        const auto segment = ring::Segment::open(config_.instance, ring_name);
        if (segment.has_live_participant()) {
          throw ConfigError(fmt::format("instance '{}' is already running (ring {} has live processes; "
                                        "`framering status --instance {}` shows them): stop it or choose "
                                        "another --instance",
                                        config_.instance, ring_name, config_.instance));
        }
      } catch (const SegmentError& e) {
        spdlog::warn("run: removing unreadable leftover ring {}: {}", ring_name, e.what());
      }
      ring::Segment::remove(config_.instance, ring_name);  // stale, from an earlier run
    }
  }

  void spawn(Stage& stage) {
    stage.restart_at_ns = 0;
    std::vector<char*> argv;
    for (auto& a : stage.argv) argv.push_back(a.data());
    argv.push_back(nullptr);
    // fork + exec rather than posix_spawn, for what the child must do before exec: its own
    // process group (a Ctrl-C at the terminal reaches only the supervisor, which then stops the
    // stages in order) and PR_SET_PDEATHSIG (a supervisor killed outright takes its stages with
    // it instead of leaving orphans on the rings). The supervisor is single-threaded.
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) ::_exit(127);  // the supervisor died before prctl
      struct sigaction default_action{};
      default_action.sa_handler = SIG_DFL;
      for (int sig : {SIGINT, SIGTERM, SIGPIPE, SIGCHLD}) ::sigaction(sig, &default_action, nullptr);
      sigset_t empty;
      sigemptyset(&empty);
      ::sigprocmask(SIG_SETMASK, &empty, nullptr);
      ::execv(options_.executable.c_str(), argv.data());
      std::fprintf(stderr, "framering run: cannot execute %s: %s\n", options_.executable.c_str(), std::strerror(errno));
      ::_exit(127);
    }
    if (pid < 0) {
      const int err = errno;
      spdlog::error("run: cannot start stage {}: {}", stage.config.name, errno_text(err));
      stage.last_exit = "could not be started: " + errno_text(err);
      schedule_restart(stage);
      return;
    }
    stage.pid = pid;
    stage.pids.insert(pid);
    stage.running = true;
    stage.started_ns = monotonic_ns();
    ++stage.starts;
    spdlog::info("run: started {} (pid {}){}", stage.config.name, pid,
                 stage.starts > 1 ? fmt::format(", restart {}", stage.restarts) : "");
  }

  void schedule_restart(Stage& stage) {
    if (stopping_ || stage.restarts >= config_.restart.max_restarts) {
      if (!stopping_) {
        stage.given_up = true;
        spdlog::error("run: giving up on stage {} after {} restarts; the other stages go on", stage.config.name,
                      stage.restarts);
      }
      return;
    }
    std::uint64_t backoff_ms = config_.restart.backoff_ms;
    for (std::uint32_t i = 0; i < stage.restarts && backoff_ms < config_.restart.backoff_max_ms; ++i) backoff_ms *= 2;
    backoff_ms = std::min<std::uint64_t>(backoff_ms, config_.restart.backoff_max_ms);
    ++stage.restarts;
    stage.restart_at_ns = monotonic_ns() + backoff_ms * 1'000'000;
    spdlog::warn("run: restarting {} in {} ms (restart {} of at most {})", stage.config.name, backoff_ms,
                 stage.restarts, config_.restart.max_restarts);
  }

  void reap() {
    int status = 0;
    pid_t pid = 0;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      auto it = std::find_if(stages_.begin(), stages_.end(), [&](const Stage& s) { return s.running && s.pid == pid; });
      if (it == stages_.end()) continue;
      Stage& stage = *it;
      stage.running = false;
      stage.last_exit = describe_status(status);
      const std::uint64_t ran_ns = monotonic_ns() - stage.started_ns;
      // 3 = ran to its end but lost frames (a camera's losses, claim timeouts): finished, not a
      // crash to restart; the loss is in the rings and makes the run's own exit code 3.
      if (WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 3)) {
        stage.finished = true;
        spdlog::log(WEXITSTATUS(status) == 0 ? spdlog::level::info : spdlog::level::warn, "run: {} (pid {}) finished{}",
                    stage.config.name, pid, WEXITSTATUS(status) == 0 ? "" : " (exit code 3: it lost frames)");
        continue;
      }
      if (stopping_) continue;
      if (WIFEXITED(status) && WEXITSTATUS(status) == 2 && stage.starts == 1 && ran_ns < kStartFailureWindowNs) {
        spdlog::error("run: {} could not start ({}); see its message above", stage.config.name, stage.last_exit);
        stage.given_up = true;
        could_not_start_ = true;
        continue;
      }
      spdlog::error("run: {} (pid {}) died: {}", stage.config.name, pid, stage.last_exit);
      schedule_restart(stage);
    }
  }

  bool producers_done() const {
    bool any = false;
    for (const auto& s : stages_) {
      if (s.config.run != "acquire") continue;
      any = true;
      if (!s.finished && !s.given_up) return false;
    }
    return any;
  }

  std::vector<ring::RingStatus> read_rings(bool include_detached) const {
    std::vector<ring::RingStatus> rings;
    for (const auto& name : ring::Segment::list_rings(config_.instance)) {
      try {
        rings.push_back(ring::read_status(ring::Segment::open(config_.instance, name), include_detached));
      } catch (const Error&) {
        // a ring being created right now: next time
      }
    }
    return rings;
  }

  // True when every active every-consumer has taken everything published.
  bool drained() const {
    for (const auto& ring : read_rings(false)) {
      for (const auto& c : ring.consumers) {
        if (c.kind == ring::ConsumerKind::Every && c.state == ring::ConsumerState::Active && c.alive &&
            c.cursor < ring.published) {
          return false;
        }
      }
    }
    return true;
  }

  void stop_stage(Stage& stage) {
    if (!stage.running) return;
    ::kill(stage.pid, SIGTERM);
    const std::uint64_t deadline = monotonic_ns() + kStopTimeoutNs;
    while (stage.running && monotonic_ns() < deadline) {
      reap();
      if (stage.running) std::this_thread::sleep_for(std::chrono::milliseconds{10});  // polling waitpid
    }
    if (stage.running) {
      spdlog::warn("run: {} (pid {}) did not stop within {} s of SIGTERM: SIGKILL", stage.config.name, stage.pid,
                   kStopTimeoutNs / 1'000'000'000);
      ::kill(stage.pid, SIGKILL);
      while (stage.running) {
        reap();
        if (stage.running) std::this_thread::sleep_for(std::chrono::milliseconds{10});  // polling waitpid
      }
    }
  }

  // Stops the stages in their order: each once what it has to consume is drained.
  void shutdown() {
    stopping_ = true;
    end_ns_ = monotonic_ns();
    for (auto& stage : stages_) stage.restart_at_ns = 0;
    for (auto& stage : stages_) {
      if (!stage.running) continue;
      const std::uint64_t deadline = monotonic_ns() + kDrainTimeoutNs;
      while (!drained() && monotonic_ns() < deadline && stage.running) {
        reap();
        std::this_thread::sleep_for(std::chrono::milliseconds{20});  // polling the rings' cursors
      }
      stop_stage(stage);
    }
  }

  struct StageSummary {
    std::uint64_t frames = 0;
    std::uint64_t skipped = 0;
    std::uint64_t torn = 0;
    std::uint64_t dropped = 0;
    std::uint64_t lost = 0;
    std::uint64_t gaps = 0;
    std::uint64_t source_lost = 0;  // frames the producer's source (a camera) lost before the ring
    std::string source_line;        // its loss counters, when it reports any
    nlohmann::json rings = nlohmann::json::object();
  };

  StageSummary summarize(const Stage& stage, const std::vector<ring::RingStatus>& rings) const {
    StageSummary s;
    bool produces = false;
    for (const auto& ring : rings) {
      if (stage.pids.contains(static_cast<pid_t>(ring.producer_pid))) {
        produces = true;
        s.frames += ring.published;
        s.dropped += ring.frames_dropped;
        s.rings[ring.ring] = {{"role", "producer"}, {"published", ring.published}, {"dropped", ring.frames_dropped},
                              {"evictions", ring.evictions}};
        const auto& src = ring.source;
        if (src.frames_lost + src.frames_incomplete + src.frames_timed_out + src.underruns + src.packets_missing +
                src.packets_resent + src.outages > 0) {
          s.source_lost += src.frames_lost;
          s.source_line += fmt::format("  {} source ({}): {} frames lost, {} incomplete, {} timed out, {} underruns, {} "
                                       "packets missing, {} resent, {} outages\n", stage.config.name, ring.ring,
                                       src.frames_lost, src.frames_incomplete, src.frames_timed_out, src.underruns,
                                       src.packets_missing, src.packets_resent, src.outages);
        }
        s.rings[ring.ring]["source"] = {{"frames_lost", src.frames_lost}, {"frames_incomplete", src.frames_incomplete},
                                        {"frames_timed_out", src.frames_timed_out}, {"underruns", src.underruns},
                                        {"packets_missing", src.packets_missing}, {"packets_resent", src.packets_resent},
                                        {"outages", src.outages}};
      }
      for (const auto& c : ring.consumers) {
        if (c.name != stage.config.name) continue;
        if (!produces) s.frames += c.frames_read;
        s.skipped += c.frames_skipped;
        s.torn += c.frames_torn;
        s.lost += c.frames_lost;
        s.gaps += c.gaps;
        s.rings[ring.ring] = {{"role", fmt::format("{} consumer", ring::to_string(c.kind))},
                              {"read", c.frames_read}, {"skipped", c.frames_skipped}, {"torn", c.frames_torn},
                              {"lost", c.frames_lost}, {"gaps", c.gaps}, {"evictions", c.evictions}};
      }
    }
    return s;
  }

  void print_status_line(std::uint64_t now) {
    const auto rings = read_rings(false);
    std::vector<std::string> parts;
    for (const auto& stage : stages_) {
      std::string part = stage.config.name + " ";
      if (!stage.running) {
        part += stage.finished ? "done" : stage.given_up ? "GIVEN UP" : "restarting";
        parts.push_back(part);
        continue;
      }
      double rate = 0;
      std::uint64_t lag = 0, skipped = 0, lost = 0, dropped = 0, source_lost = 0;
      bool source_away = false;
      for (const auto& ring : rings) {
        if (stage.pids.contains(static_cast<pid_t>(ring.producer_pid))) {
          rate = ring.rate_fps;
          dropped += ring.frames_dropped;
          source_lost += ring.source.frames_lost;
          source_away = source_away || (ring.source.outages > 0 && ring.source.connected == 0);
        }
        for (const auto& c : ring.consumers) {
          if (c.name != stage.config.name) continue;
          if (rate == 0) rate = c.rate_fps;
          lag = std::max(lag, c.lag);
          skipped += c.frames_skipped;
          lost += c.frames_lost;
        }
      }
      part += fmt::format("{:.1f}/s", rate);
      if (lag > 0) part += fmt::format(" lag {}", lag);
      if (skipped > 0) part += fmt::format(" skip {}", skipped);
      if (dropped > 0) part += fmt::format(" DROP {}", dropped);
      if (lost > 0) part += fmt::format(" LOST {}", lost);
      if (source_lost > 0) part += fmt::format(" SOURCE LOST {}", source_lost);
      if (source_away) part += " CAMERA AWAY";
      if (stage.restarts > 0) part += fmt::format(" restarts {}", stage.restarts);
      parts.push_back(part);
    }
    std::string progress;
    const double elapsed = static_cast<double>(now - start_ns_) / 1e9;
    double fraction = -1;
    if (options_.duration_s > 0) fraction = elapsed / options_.duration_s;
    if (options_.frames > 0) {
      std::uint64_t published = 0;
      for (const auto& ring : rings) {
        for (const auto& stage : stages_) {
          if (stage.config.run == "acquire" && stage.pids.contains(static_cast<pid_t>(ring.producer_pid))) {
            published = std::max(published, ring.published);
          }
        }
      }
      fraction = static_cast<double>(published) / static_cast<double>(options_.frames);
    }
    if (fraction >= 0) {
      fraction = std::clamp(fraction, 0.0, 1.0);
      const int filled = static_cast<int>(fraction * 20);
      progress = fmt::format(" [{}{}] {:3.0f}%", std::string(static_cast<std::size_t>(filled), '#'),
                             std::string(static_cast<std::size_t>(20 - filled), '.'), fraction * 100);
    }
    const std::string line = fmt::format("{:6.1f} s | {}{}", elapsed, fmt::join(parts, " | "), progress);
    if (tty_) {
      std::fprintf(stderr, "\r\033[K%s", line.c_str());
    } else {
      std::fprintf(stderr, "%s\n", line.c_str());
    }
    std::fflush(stderr);
  }

  int finish() {
    const auto rings = read_rings(true);
    const double elapsed_s = static_cast<double>(end_ns_ - start_ns_) / 1e9;
    bool lost_any = false;
    bool failed = could_not_start_;
    nlohmann::json stages = nlohmann::json::array();
    std::string table = fmt::format("\nrun summary: {:.1f} s, instance {}, pipeline {}\n", elapsed_s, config_.instance,
                                    config_.source);
    table += fmt::format("  {:<12} {:>10} {:>9} {:>9} {:>7} {:>8} {:>7} {:>9}  {}\n", "stage", "frames", "rate/s",
                         "skipped", "torn", "dropped", "lost", "restarts", "end");
    std::string source_lines;
    for (const auto& stage : stages_) {
      const StageSummary s = summarize(stage, rings);
      const double rate = elapsed_s > 0 ? static_cast<double>(s.frames) / elapsed_s : 0.0;
      lost_any = lost_any || s.lost > 0 || s.dropped > 0 || s.source_lost > 0;
      source_lines += s.source_line;
      failed = failed || stage.given_up;
      table += fmt::format("  {:<12} {:>10} {:>9.1f} {:>9} {:>7} {:>8} {:>7} {:>9}  {}\n", stage.config.name, s.frames,
                           rate, s.skipped, s.torn, s.dropped, s.lost, stage.restarts,
                           stage.given_up ? "GIVEN UP: " + stage.last_exit : stage.last_exit);
      stages.push_back({{"name", stage.config.name}, {"run", stage.config.run}, {"frames", s.frames},
                        {"rate_fps", rate}, {"skipped", s.skipped}, {"torn", s.torn}, {"dropped", s.dropped},
                        {"lost", s.lost}, {"gaps", s.gaps}, {"restarts", stage.restarts},
                        {"given_up", stage.given_up}, {"end", stage.last_exit}, {"rings", s.rings}});
    }
    table += source_lines;
    const int exit_code = failed ? 2 : lost_any ? 3 : 0;
    table += fmt::format("  result: {}\n", exit_code == 0   ? "ok, nothing lost"
                                           : exit_code == 3 ? "FRAMES LOST (exit code 3)"
                                                            : "a stage failed (exit code 2)");
    std::fputs(table.c_str(), stderr);
    nlohmann::json summary = {{"instance", config_.instance}, {"config", config_.source}, {"duration_s", elapsed_s},
                              {"exit_code", exit_code}, {"stages", stages}};
    if (!options_.summary_json.empty()) {
      std::ofstream out(options_.summary_json);
      out << summary.dump(2) << '\n';
      if (!out) spdlog::error("run: cannot write the summary to {}", options_.summary_json);
    }
    if (!options_.keep_rings) {
      for (const auto& name : ring::Segment::list_rings(config_.instance)) ring::Segment::remove(config_.instance, name);
    }
    return exit_code;
  }

  PipelineConfig config_;
  RunOptions options_;
  std::vector<Stage> stages_;
  bool tty_ = false;
  bool stopping_ = false;
  bool could_not_start_ = false;
  std::uint64_t start_ns_ = 0;
  std::uint64_t end_ns_ = 0;
};

}  // namespace

int run_pipeline(const RunOptions& options, const StageParserFactory& stages) {
  PipelineConfig config = options.config_path.empty()
                              ? parse_pipeline(embedded_default_config(), "embedded:config/default.toml", stages)
                              : load_pipeline(options.config_path, stages);
  Supervisor supervisor(std::move(config), options, stages);
  if (options.dry_run) {
    supervisor.print_plan();
    return 0;
  }
  return supervisor.run();
}

}  // namespace framering::supervise
