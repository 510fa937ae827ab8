// test_support.hpp: what multi-process tests share: unique segment names, a watchdog, a child
// process launcher that captures output, and waiting on a condition with a deadline.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace framering::test {

/// A unique instance name for this test: "t<pid>-<suite>-<test>" trimmed to a valid name, so
/// that `ctest -j` runs never share a segment.
[[nodiscard]] std::string unique_instance();

/// Removes every /dev/shm segment of `instance` and its supervisor lock file (for TearDown).
void remove_instance(const std::string& instance);

/// Path of the built `framering` executable (env FRAMERING_BIN overrides the built one).
[[nodiscard]] std::string framering_bin();
/// Path of the built `ring_peer` test tool (env RING_PEER overrides the built one).
[[nodiscard]] std::string ring_peer_bin();
/// The source tree (env FRAMERING_SOURCE_DIR overrides), for test data and config/.
[[nodiscard]] std::string source_dir();
/// Makes Python processes this test starts (and their children) import this build's `framering`
/// package (PYTHONPATH), with the sanitizer runtime preloaded in a sanitizer build.
void use_this_builds_python_package();

/// Aborts the test process with a message if it is still alive after `limit`: the in-test
/// watchdog every waiting test installs (CTest's TIMEOUT is the outer one). Disarms on
/// destruction.
class Watchdog {
 public:
  explicit Watchdog(std::chrono::seconds limit);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
};

/// A child process running a real binary, with stdout and stderr captured to files.
class Child {
 public:
  /// Starts `argv[0]` with `argv`. Throws std::runtime_error when it cannot start.
  explicit Child(std::vector<std::string> argv);
  ~Child();  ///< SIGKILLs and reaps it if still running
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  /// Waits for exit up to `timeout`; returns the wait status, or -1 on timeout.
  int wait(std::chrono::milliseconds timeout);
  /// Exit code if it exited normally, else 128 + signal; -1 while running.
  [[nodiscard]] int exit_code() const noexcept;
  void signal(int signal_number) const;
  [[nodiscard]] std::string out() const;  ///< stdout so far
  [[nodiscard]] std::string err() const;  ///< stderr so far
  [[nodiscard]] bool running() const noexcept { return !reaped_; }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  std::string out_path_;
  std::string err_path_;
};

/// Polls `condition` every millisecond until it holds or `timeout` passes; returns whether it
/// held. For conditions in another process (shared memory, files), never a sleep "to be sure".
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

/// Runs a command to completion (with a timeout), capturing output: for CLI tests.
struct RunResult {
  int exit_code = -1;  ///< 128 + signal if killed; -1 on timeout
  std::string out;
  std::string err;
};
[[nodiscard]] RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

}  // namespace framering::test
