// stage_process.hpp: one stage's process over a run: started with fork + exec in its own process
// group with its environment (docs/stages.md), reaped, and restarted after a delay that doubles
// while it keeps dying and starts over once it has run healthily. Used by the supervisor's main
// thread only (its start() forks: PR_SET_PDEATHSIG is tied to the forking thread).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "framering/supervise/stage_plan.hpp"

namespace framering::supervise {

/// A file descriptor owned by one object: closed when it goes or is reset. Move-only.
class OwnedFd {
 public:
  OwnedFd() = default;
  explicit OwnedFd(int fd) noexcept : fd_(fd) {}
  OwnedFd(OwnedFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  OwnedFd& operator=(OwnedFd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  ~OwnedFd() { reset(); }
  void reset(int fd = -1) noexcept;
  [[nodiscard]] int get() const noexcept { return fd_; }

 private:
  int fd_ = -1;
};

class StageProcess {
 public:
  StageProcess(StagePlan plan, const RestartPolicy& policy) : plan_(std::move(plan)), policy_(policy) {}

  /// How a process of this stage ended.
  enum class End {
    Finished,       ///< exit 0, or 3 (it ran to its end but lost frames: reported, not restarted)
    CouldNotStart,  ///< exit 2 or 127 within 3 s of its first start: a bad start, not a crash
    Died,           ///< anything else: a crash to restart
  };

  /// Starts it now: fork, then in the child its own process group, PR_SET_PDEATHSIG = SIGTERM
  /// (a supervisor killed outright takes its stages with it), default signal handling, the
  /// plan's environment plus FRAMERING_SUPERVISOR_PID and FRAMERING_CONTROL_FD (its end of a
  /// new control channel: stage_control.hpp), exec. Returns false when fork failed (a restart
  /// is then scheduled, as for a death).
  bool start(std::uint64_t now_ns);

  /// Records the end of its process (`status` from waitpid) and classifies it.
  End ended(int status, std::uint64_t now_ns);

  /// Schedules the next start, `restart_delay_ms` after now; with `at_once`, now. Returns false,
  /// and gives it up, when it has died max_restarts times in a row.
  bool schedule_restart(std::uint64_t now_ns, bool at_once = false);
  void cancel_restart() noexcept { restart_at_ns_ = 0; }
  [[nodiscard]] bool restart_pending() const noexcept { return restart_at_ns_ != 0; }
  [[nodiscard]] bool restart_due(std::uint64_t now_ns) const noexcept {
    return restart_at_ns_ != 0 && now_ns >= restart_at_ns_;
  }
  /// Starts the restart count over once the process has been up healthy_after_ms.
  void note_health(std::uint64_t now_ns) noexcept;

  /// Sends `sig` to the running process (nothing when none runs).
  void signal(int sig) const noexcept;

  /// The supervisor's end of the running process's control channel (stage_control.hpp): a
  /// SOCK_SEQPACKET socket, one JSON message per datagram; -1 when none runs or the channel
  /// could not be made. Closed when the process is reaped.
  [[nodiscard]] int control_fd() const noexcept { return control_.get(); }
  /// Closes the supervisor's end of the channel before the process ends (its end is closed).
  void close_control() noexcept { control_.reset(); }

  [[nodiscard]] const StagePlan& plan() const noexcept { return plan_; }
  /// Its plan, to change what its next start runs (a recorder's remaining --frames).
  [[nodiscard]] StagePlan& plan() noexcept { return plan_; }
  [[nodiscard]] const std::string& name() const noexcept { return plan_.name; }
  [[nodiscard]] bool running() const noexcept { return running_; }
  [[nodiscard]] bool finished() const noexcept { return finished_; }
  [[nodiscard]] bool given_up() const noexcept { return given_up_; }
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  [[nodiscard]] bool had_pid(pid_t pid) const { return pids_.contains(pid); }
  [[nodiscard]] std::uint32_t restarts() const noexcept { return restarts_; }
  [[nodiscard]] std::uint32_t starts() const noexcept { return starts_; }
  [[nodiscard]] const std::string& last_exit() const noexcept { return last_exit_; }
  /// Monotonic ns of its latest start and of the latest time a process of it was seen to end.
  [[nodiscard]] std::uint64_t started_ns() const noexcept { return started_ns_; }
  [[nodiscard]] std::uint64_t ended_ns() const noexcept { return ended_ns_; }

 private:
  StagePlan plan_;
  RestartPolicy policy_;
  pid_t pid_ = 0;
  std::set<pid_t> pids_;
  bool running_ = false;
  bool finished_ = false;
  bool given_up_ = false;
  std::uint32_t restarts_ = 0;          ///< over the run
  std::uint32_t restarts_in_a_row_ = 0; ///< since it last ran healthily
  std::uint32_t starts_ = 0;
  std::uint64_t started_ns_ = 0;
  std::uint64_t ended_ns_ = 0;
  std::uint64_t restart_at_ns_ = 0;
  std::string last_exit_ = "not started";
  OwnedFd control_;
};

/// The environment a stage's process gets: the supervisor's own (`environ`) with `plan_env`
/// and FRAMERING_SUPERVISOR_PID = `supervisor_pid` set on top, as "KEY=value" strings. Built
/// before fork, so that the child calls nothing but async-signal-safe functions before exec.
[[nodiscard]] std::vector<std::string> child_environment(
    const std::vector<std::pair<std::string, std::string>>& plan_env, const std::string& supervisor_pid);

/// "exit code 3", "signal 9 (Killed)".
[[nodiscard]] std::string describe_wait_status(int status);

}  // namespace framering::supervise
