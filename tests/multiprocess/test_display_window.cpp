// `framering display` with a window, on a private X server (Xvfb, started here with -displayfd so
// that it picks a free display itself): the window shows the newest frame, contrast-stretched,
// pixel for pixel at the screen's top-left corner (WINDOW_GUI_NORMAL: no toolbar; no window
// manager: no decorations). The producer stops itself at a known sequence, so the newest frame
// is known; the test then takes screenshots (ImageMagick `import`) until one shows it.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "ring_process.hpp"
#include "test_support.hpp"

namespace framering::display {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test::Child;

constexpr int kWidth = 160;
constexpr int kHeight = 120;
constexpr std::uint32_t kFixedMax = 1023;  // --fixed-max: pattern values stay below it, so no pixel clamps
constexpr std::uint64_t kStopAt = 6;       // the producer publishes 0..5, then stops itself

/// The full path of `program` on $PATH, or nullopt.
std::optional<std::string> find_on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const fs::path candidate = fs::path(dir.empty() ? "." : dir) / program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return std::nullopt;
}

/// The 8-bit image `--contrast fixed --fixed-min 0 --fixed-max kFixedMax` makes of the test
/// pattern of `sequence`, computed here: round(v * 255 / kFixedMax).
cv::Mat expected_image(std::uint64_t sequence) {
  cv::Mat m(kHeight, kWidth, CV_8UC1);
  for (int y = 0; y < kHeight; ++y) {
    for (int x = 0; x < kWidth; ++x) {
      const double v = static_cast<double>((sequence + x + 3 * y) & 0xFFFF);
      m.at<std::uint8_t>(y, x) = static_cast<std::uint8_t>(std::floor(v * 255.0 / kFixedMax + 0.5));
    }
  }
  return m;
}

class DisplayWindow : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto xvfb = find_on_path("Xvfb");
    const auto import = find_on_path("import");
    if (!xvfb) GTEST_SKIP() << "Xvfb is not installed (apt-get install xvfb)";
    if (!import) GTEST_SKIP() << "ImageMagick's import is not installed (apt-get install imagemagick)";
    import_ = *import;
    instance_ = test::unique_instance();
    shot_ = fs::temp_directory_path() / ("framering-" + instance_ + ".png");
    // -displayfd 1: Xvfb chooses a free display and prints its number on stdout when it is ready.
    xvfb_.emplace(std::vector<std::string>{*xvfb, "-displayfd", "1", "-screen", "0", "1280x1024x24", "-nolisten", "tcp"});
    std::string number;
    ASSERT_TRUE(test::wait_until(
        [&] {
          const std::string out = xvfb_->out();
          if (out.find('\n') == std::string::npos) return false;
          number = out.substr(0, out.find('\n'));
          return true;
        },
        30s))
        << "Xvfb did not report a display: " << xvfb_->err();
    display_ = ":" + number;
    // The server must still be up, with its socket, before anything connects to it; an X server
    // that could not start here is an environment without a usable Xvfb, not a display bug.
    const std::string socket = "/tmp/.X11-unix/X" + number;
    if (!test::wait_until([&] { return !xvfb_->running() || fs::exists(socket); }, 10s) || xvfb_->wait(0ms) != -1) {
      GTEST_SKIP() << "Xvfb reported display " << display_ << " but did not stay up with " << socket << ": "
                   << xvfb_->err();
    }
    ::setenv("DISPLAY", display_.c_str(), 1);  // inherited by the children spawned below
  }

  void TearDown() override {
    ::unsetenv("DISPLAY");
    if (xvfb_ && xvfb_->running()) {
      xvfb_->signal(SIGTERM);  // lets it remove its lock file and socket
      (void)xvfb_->wait(20s);
    }
    test::remove_instance(instance_);
    std::error_code ec;
    fs::remove(shot_, ec);
  }

  /// A screenshot of the whole screen as BGR, or an empty Mat when import failed.
  [[nodiscard]] cv::Mat screenshot() const {
    const auto result = test::run({import_, "-display", display_, "-window", "root", shot_.string()}, 30s);
    if (result.exit_code != 0) return {};
    return cv::imread(shot_.string(), cv::IMREAD_COLOR);
  }

  std::string import_;
  std::string instance_;
  std::string display_;
  fs::path shot_;
  std::optional<Child> xvfb_;
};

TEST_F(DisplayWindow, WindowShowsTheNewestFrameContrastStretchedPixelForPixelAtTheTopLeft) {
  test::Watchdog watchdog(100s);
  Child producer(test::peer_argv("produce", instance_,
                                 {"--ring", "raw", "--width", std::to_string(kWidth), "--height", std::to_string(kHeight),
                                  "--slots", "4", "--frames", "1000", "--stop-at", "0", std::to_string(kStopAt)}));
  ASSERT_TRUE(test::wait_until(
      [&] {
        const auto status = test::ring_status(instance_);
        return test::process_state(producer.pid()) == 'T' && status && status->published == 0;
      },
      20s))
      << producer.err();
  Child sut(test::framering_argv({"display", "--instance", instance_, "--ring", "raw", "--contrast", "fixed",
                                  "--fixed-min", "0", "--fixed-max", std::to_string(kFixedMax), "--no-overlay",
                                  "--wait-for-ring-s", "20"}));
  ASSERT_TRUE(test::wait_attached(instance_, "display", sut.pid(), 30s)) << sut.err();

  producer.signal(SIGCONT);
  ASSERT_TRUE(test::wait_until(
      [&] {
        const auto status = test::ring_status(instance_);
        return test::process_state(producer.pid()) == 'T' && status && status->published == kStopAt;
      },
      20s))
      << producer.err();

  // The newest frame is now kStopAt - 1 for good: screenshots until the window shows it.
  cv::Mat expected;
  cv::cvtColor(expected_image(kStopAt - 1), expected, cv::COLOR_GRAY2BGR);
  cv::Mat region;
  const bool shown = test::wait_until(
      [&] {
        const cv::Mat screen = screenshot();
        if (screen.cols < kWidth || screen.rows < kHeight) return false;
        region = screen(cv::Rect(0, 0, kWidth, kHeight)).clone();
        return cv::norm(region, expected, cv::NORM_INF) == 0.0;
      },
      60s);

  std::string what = "no screenshot";
  if (!region.empty()) {
    what = "max difference " + std::to_string(cv::norm(region, expected, cv::NORM_INF));
    for (std::uint64_t s = 0; s < kStopAt; ++s) {
      cv::Mat other;
      cv::cvtColor(expected_image(s), other, cv::COLOR_GRAY2BGR);
      if (cv::norm(region, other, cv::NORM_INF) == 0.0) what += "; the screen shows sequence " + std::to_string(s);
    }
  }
  EXPECT_TRUE(shown) << what << "\n" << sut.err();
  EXPECT_TRUE(sut.running()) << sut.err();
  sut.signal(SIGTERM);
  EXPECT_EQ(test::finish(sut, 30s), 0) << sut.err();
}

}  // namespace
}  // namespace framering::display
