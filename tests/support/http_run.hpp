// http_run.hpp: what the tests of `framering run --http` share around the run itself: its port,
// read from the "listening on" line it logs, and its end in a test's TearDown.
//
// Header-only and inline: each test executable includes it once.
#pragma once

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <regex>
#include <string>

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace framering::test {

/// Waits (30 s at most) for `run`'s "run: http: listening on http://127.0.0.1:PORT/" line; the
/// port, or 0 when it did not come (the caller asserts, with run.err()).
inline int wait_for_http_port(const Child& run) {
  const std::regex listening(R"(listening on http://127\.0\.0\.1:(\d+)/)");
  int port = 0;
  (void)wait_until(
      [&] {
        std::smatch m;
        const std::string err = run.err();
        if (!std::regex_search(err, m, listening)) return false;
        port = std::stoi(m[1]);
        return true;
      },
      std::chrono::seconds{30});
  return port;
}

/// A test's end of its `framering run`: SIGINT when it still runs (a failure if it has not
/// stopped within 60 s), then a failure for any sanitizer report in its stderr (a sanitizer
/// build's run checks its HTTP threads and its loop), and the child is gone.
inline void stop_run(std::optional<Child>& run) {
  if (!run) return;
  if (run->running()) {
    run->signal(SIGINT);
    if (run->wait(std::chrono::seconds{60}) == -1) ADD_FAILURE() << "run did not stop on SIGINT: " << run->err();
  }
  EXPECT_EQ(run->err().find("Sanitizer"), std::string::npos) << run->err();
  run.reset();
}

/// A test with a `framering run` of its own: a unique instance, a temporary folder for its files
/// (`dir_`), and in TearDown the run stopped (stop_run), its rings and its folder removed.
class HttpRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    instance_ = unique_instance();
    dir_ = std::filesystem::temp_directory_path() / ("framering-http-" + instance_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    stop_run(run_);
    remove_instance(instance_);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string instance_;
  std::filesystem::path dir_;
  std::optional<Child> run_;
  int port_ = 0;  ///< the run's API port, once started
};

}  // namespace framering::test
