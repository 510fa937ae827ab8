#include "framering/supervise/stage_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

extern char** environ;  // POSIX: the process's environment

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framering/common/error.hpp"

namespace framering::supervise {
namespace {

constexpr std::uint64_t kStartFailureWindowNs = 3'000'000'000;  // exit 2 this soon after the first start: could not start

}  // namespace

std::vector<std::string> child_environment(const std::vector<std::pair<std::string, std::string>>& plan_env,
                                           const std::string& supervisor_pid) {
  std::vector<std::pair<std::string, std::string>> set = plan_env;
  set.emplace_back(kStageEnvSupervisorPid, supervisor_pid);
  std::vector<std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const std::string_view key = entry.substr(0, entry.find('='));
    const bool replaced = std::any_of(set.begin(), set.end(), [&](const auto& kv) { return kv.first == key; });
    if (!replaced) out.emplace_back(entry);
  }
  for (const auto& [key, value] : set) out.push_back(key + "=" + value);
  return out;
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exit code {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("signal {} ({})", WTERMSIG(status), ::strsignal(WTERMSIG(status)));
  return fmt::format("status {}", status);
}

bool StageProcess::start(std::uint64_t now_ns) {
  restart_at_ns_ = 0;
  std::vector<char*> argv;
  for (auto& a : plan_.argv) argv.push_back(a.data());
  argv.push_back(nullptr);
  // Everything the child needs is built here, before fork: with `run --http` the supervisor has
  // other threads (the HTTP server's), so between fork and exec the child may call only
  // async-signal-safe functions (no setenv, no malloc, no stdio: another thread may have held
  // their locks at the fork). The environment is the supervisor's with the plan's variables on top.
  // The control channel (stage_control.hpp): the child's end stays open across exec, ours not.
  int pair[2] = {-1, -1};
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    spdlog::warn("run: stage {}: no control channel ({}): its parameters cannot change while it runs", plan_.name,
                 errno_text(errno));
  }
  OwnedFd ours(pair[0]);
  OwnedFd theirs(pair[1]);
  auto plan_env = plan_.env;
  if (theirs.get() >= 0) plan_env.emplace_back(kStageEnvControlFd, std::to_string(theirs.get()));
  std::vector<std::string> env_text = child_environment(plan_env, std::to_string(::getpid()));
  std::vector<char*> envp;
  for (auto& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string exec_failed = fmt::format("framering run: stage {}: cannot execute {}: ", plan_.name, plan_.program);
  // fork + exec rather than posix_spawn, for what the child must do before exec: its own
  // process group (a Ctrl-C at the terminal reaches only the supervisor, which then stops the
  // stages in order) and PR_SET_PDEATHSIG (a supervisor killed outright takes its stages with
  // it instead of leaving orphans on the rings). PR_SET_PDEATHSIG fires when the *thread* that
  // forked ends: every start happens on the supervisor's main thread, which lives as long as
  // the run (the HTTP threads only ask it to start recorders: supervisor.cpp).
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    // Default handling before PR_SET_PDEATHSIG: a SIGTERM from the supervisor's death that came
    // while the supervisor's own handler was still installed would only set a flag, which exec
    // discards, and the stage would run on with no supervisor.
    struct sigaction default_action{};
    default_action.sa_handler = SIG_DFL;
    for (int sig : {SIGINT, SIGTERM, SIGPIPE, SIGCHLD}) ::sigaction(sig, &default_action, nullptr);
    sigset_t empty;
    sigemptyset(&empty);
    ::sigprocmask(SIG_SETMASK, &empty, nullptr);
    if (theirs.get() >= 0) ::fcntl(theirs.get(), F_SETFD, 0);  // kept across exec
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);  // the supervisor died before prctl
    if (plan_.search_path) {
      ::execvpe(plan_.program.c_str(), argv.data(), envp.data());
    } else {
      ::execve(plan_.program.c_str(), argv.data(), envp.data());
    }
    const char* reason = ::strerror(errno);  // glibc's table: no allocation for a known errno
    (void)!::write(STDERR_FILENO, exec_failed.data(), exec_failed.size());
    (void)!::write(STDERR_FILENO, reason, std::strlen(reason));
    (void)!::write(STDERR_FILENO, "\n", 1);
    ::_exit(127);
  }
  if (pid < 0) {
    const int err = errno;
    spdlog::error("run: cannot start stage {}: {}", plan_.name, errno_text(err));
    last_exit_ = "could not be started: " + errno_text(err);
    schedule_restart(now_ns);
    return false;
  }
  control_ = std::move(ours);  // theirs closes here: the child holds its end
  pid_ = pid;
  pids_.insert(pid);
  running_ = true;
  finished_ = false;
  started_ns_ = now_ns;
  ++starts_;
  spdlog::info("run: started {} (pid {}){}", plan_.name, pid, starts_ > 1 ? fmt::format(", restart {}", restarts_) : "");
  return true;
}

StageProcess::End StageProcess::ended(int status, std::uint64_t now_ns) {
  running_ = false;
  control_.reset();
  ended_ns_ = now_ns;
  last_exit_ = describe_wait_status(status);
  note_health(now_ns);
  // 3 = ran to its end but lost frames (a camera's losses, claim timeouts): finished, not a
  // crash to restart; the loss is in the rings and makes the run's own exit code 3.
  if (WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 3)) {
    finished_ = true;
    return End::Finished;
  }
  if (WIFEXITED(status) && (WEXITSTATUS(status) == 2 || WEXITSTATUS(status) == 127) && starts_ == 1 &&
      now_ns - started_ns_ < kStartFailureWindowNs) {
    given_up_ = true;
    return End::CouldNotStart;
  }
  return End::Died;
}

void StageProcess::note_health(std::uint64_t now_ns) noexcept {
  if (restarts_in_a_row_ > 0 && started_ns_ != 0 &&
      now_ns - started_ns_ >= std::uint64_t{policy_.healthy_after_ms} * 1'000'000ULL) {
    restarts_in_a_row_ = 0;
  }
}

bool StageProcess::schedule_restart(std::uint64_t now_ns, bool at_once) {
  if (restarts_in_a_row_ >= policy_.max_restarts) {
    given_up_ = true;
    spdlog::error("run: giving up on stage {} after {} restarts in a row; the other stages go on", plan_.name,
                  restarts_in_a_row_);
    return false;
  }
  ++restarts_in_a_row_;
  ++restarts_;
  const std::uint64_t delay_ms = at_once ? 0 : restart_delay_ms(policy_, plan_, restarts_in_a_row_);
  restart_at_ns_ = now_ns + delay_ms * 1'000'000ULL;
  if (restart_at_ns_ == 0) restart_at_ns_ = 1;
  spdlog::warn("run: restarting {} {} (restart {} in a row, at most {})", plan_.name,
               at_once ? std::string{"at once"} : fmt::format("in {} ms", delay_ms), restarts_in_a_row_,
               policy_.max_restarts);
  return true;
}

void OwnedFd::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

void StageProcess::signal(int sig) const noexcept {
  if (running_) ::kill(pid_, sig);
}

}  // namespace framering::supervise
