#include "test_support.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

extern char** environ;

namespace framering::test {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string env_or(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

}  // namespace

std::string unique_instance() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string raw = info != nullptr ? std::string(info->test_suite_name()) + "-" + info->name() : "test";
  std::string clean;
  for (char c : raw) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    clean += ok ? c : '_';
  }
  std::string name = "t" + std::to_string(::getpid()) + "-" + clean;
  if (name.size() > 47) name.resize(47);
  return name;
}

void remove_instance(const std::string& instance) {
  std::error_code ec;
  const std::string prefix = "framering." + instance + ".";
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm", ec)) {
    if (entry.path().filename().string().starts_with(prefix)) std::filesystem::remove(entry.path(), ec);
  }
  std::filesystem::remove("/dev/shm/framering-run." + instance + ".lock", ec);  // a killed supervisor's
}

std::string framering_bin() { return env_or("FRAMERING_BIN", FRAMERING_TEST_FRAMERING_BIN); }
std::string ring_peer_bin() { return env_or("RING_PEER", FRAMERING_TEST_RING_PEER_BIN); }
std::string source_dir() { return env_or("FRAMERING_SOURCE_DIR", FRAMERING_TEST_SOURCE_DIR); }

void use_this_builds_python_package() {
  ::setenv("PYTHONPATH", FRAMERING_TEST_PYTHON_DIR, 1);
  ::setenv("PYTHONDONTWRITEBYTECODE", "1", 1);
  if (std::string_view{FRAMERING_TEST_PYTHON_PRELOAD}.empty()) return;
  ::setenv("LD_PRELOAD", FRAMERING_TEST_PYTHON_PRELOAD, 1);
  ::setenv("ASAN_OPTIONS", "detect_leaks=0", 1);  // the interpreter's own allocations at exit
}

namespace {
std::mutex g_watchdog_mutex;
std::condition_variable g_watchdog_cv;
bool g_watchdog_disarmed = false;
std::thread g_watchdog_thread;
}  // namespace

Watchdog::Watchdog(std::chrono::seconds limit) {
  std::lock_guard lock(g_watchdog_mutex);
  g_watchdog_disarmed = false;
  const std::string test = ::testing::UnitTest::GetInstance()->current_test_info() != nullptr
                               ? ::testing::UnitTest::GetInstance()->current_test_info()->name()
                               : "?";
  g_watchdog_thread = std::thread([limit, test] {
    std::unique_lock thread_lock(g_watchdog_mutex);
    if (!g_watchdog_cv.wait_for(thread_lock, limit, [] { return g_watchdog_disarmed; })) {
      std::fprintf(stderr, "WATCHDOG: test %s still running after %lld s: aborting\n", test.c_str(),
                   static_cast<long long>(limit.count()));
      std::fflush(stderr);
      std::abort();
    }
  });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(g_watchdog_mutex);
    g_watchdog_disarmed = true;
  }
  g_watchdog_cv.notify_all();
  if (g_watchdog_thread.joinable()) g_watchdog_thread.join();
}

Child::Child(std::vector<std::string> argv) {
  static std::atomic<int> counter{0};
  const std::string base = (std::filesystem::temp_directory_path() /
                            ("framering-child-" + std::to_string(::getpid()) + "-" + std::to_string(counter++)))
                               .string();
  out_path_ = base + ".out";
  err_path_ = base + ".err";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const int rc = ::posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    std::error_code ec;
    std::filesystem::remove(out_path_, ec);
    std::filesystem::remove(err_path_, ec);
    throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
}

Child::~Child() {
  if (!reaped_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
  }
  std::error_code ec;
  std::filesystem::remove(out_path_, ec);
  std::filesystem::remove(err_path_, ec);
}

int Child::wait(std::chrono::milliseconds timeout) {
  if (reaped_) return status_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const pid_t r = ::waitpid(pid_, &status_, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      return status_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds{1});  // polling waitpid with a deadline
  }
}

int Child::exit_code() const noexcept {
  if (!reaped_) return -1;
  if (WIFEXITED(status_)) return WEXITSTATUS(status_);
  if (WIFSIGNALED(status_)) return 128 + WTERMSIG(status_);
  return -1;
}

void Child::signal(int signal_number) const {
  if (!reaped_) ::kill(pid_, signal_number);
}

std::string Child::out() const { return read_file(out_path_); }
std::string Child::err() const { return read_file(err_path_); }

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{1});  // polling another process's state
  }
  return true;
}

RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  Child child(argv);
  RunResult result;
  if (child.wait(timeout) == -1) {
    result.out = child.out();
    result.err = child.err();
    return result;  // exit_code -1; the destructor kills it
  }
  result.exit_code = child.exit_code();
  result.out = child.out();
  result.err = child.err();
  return result;
}

}  // namespace framering::test
