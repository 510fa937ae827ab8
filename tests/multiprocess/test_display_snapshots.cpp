// `framering display` without a window, against a real producer (ring_peer): the PNG snapshots
// hold exactly the contrast-stretched sequence pattern of the frame their name says, at an interval
// or once; and it fails to start clearly (exit 2, naming what) for a bad directory or no ring.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
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

constexpr int kWidth = 64;
constexpr int kHeight = 48;

/// The sequence pattern of `sequence` (pixel(x, y) = (sequence + x + 3y) & 0xFFFF) as CV_16UC1.
cv::Mat pattern(std::uint64_t sequence) {
  cv::Mat m(kHeight, kWidth, CV_16UC1);
  for (int y = 0; y < kHeight; ++y) {
    for (int x = 0; x < kWidth; ++x) m.at<std::uint16_t>(y, x) = static_cast<std::uint16_t>((sequence + x + 3 * y) & 0xFFFF);
  }
  return m;
}

/// What `--contrast minmax` should make of `raw`, computed here independently of display/:
/// round((v - min) * 255 / (max - min)).
cv::Mat minmax_stretch(const cv::Mat& raw) {
  double lo = 0;
  double hi = 0;
  cv::minMaxLoc(raw, &lo, &hi);
  cv::Mat out(raw.rows, raw.cols, CV_8UC1);
  for (int y = 0; y < raw.rows; ++y) {
    for (int x = 0; x < raw.cols; ++x) {
      const double v = raw.at<std::uint16_t>(y, x);
      out.at<std::uint8_t>(y, x) = static_cast<std::uint8_t>(std::floor((v - lo) * 255.0 / (hi - lo) + 0.5));
    }
  }
  return out;
}

/// The sequence in "<ring>-<sequence>.png", or nullopt for other names.
std::optional<std::uint64_t> sequence_of(const std::string& file, const std::string& ring) {
  if (!file.starts_with(ring + "-") || !file.ends_with(".png")) return std::nullopt;
  const std::string digits = file.substr(ring.size() + 1, file.size() - ring.size() - 5);
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return std::stoull(digits);
}

class DisplaySnapshots : public ::testing::Test {
 protected:
  void SetUp() override {
    instance_ = test::unique_instance();
    dir_ = fs::temp_directory_path() / ("framering-" + instance_);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    test::remove_instance(instance_);
    fs::remove_all(dir_);
  }

  [[nodiscard]] std::vector<std::string> display(std::vector<std::string> extra) const {
    std::vector<std::string> argv{"display", "--instance", instance_, "--ring", "raw", "--headless",
                                  "--snapshot-dir", dir_.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return test::framering_argv(argv);
  }

  /// Sequences of the snapshot files in the directory, in name order.
  [[nodiscard]] std::vector<std::uint64_t> snapshots() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    std::vector<std::uint64_t> sequences;
    for (const auto& n : names) {
      if (auto s = sequence_of(n, "raw")) sequences.push_back(*s);
    }
    return sequences;
  }

  [[nodiscard]] cv::Mat read(std::uint64_t sequence) const {
    return cv::imread((dir_ / ("raw-" + fmt_sequence(sequence) + ".png")).string(), cv::IMREAD_UNCHANGED);
  }

  static std::string fmt_sequence(std::uint64_t sequence) {
    std::string digits = std::to_string(sequence);
    return std::string(20 - digits.size(), '0') + digits;
  }

  // Publishes frames 0..frames-1 and exits: the newest frame is then frames-1, and stays.
  void publish_and_exit(std::uint64_t frames, const std::string& format = "Mono16") const {
    Child producer(test::peer_argv("produce", instance_,
                                   {"--ring", "raw", "--width", std::to_string(kWidth), "--height",
                                    std::to_string(kHeight), "--slots", "4", "--frames", std::to_string(frames),
                                    "--format", format}));
    ASSERT_EQ(test::finish(producer, 30s), 0) << producer.err();
  }

  std::string instance_;
  fs::path dir_;
};

TEST_F(DisplaySnapshots, SnapshotHoldsTheMinMaxStretchedPatternOfTheFrameItsNameGives) {
  test::Watchdog watchdog(60s);
  publish_and_exit(3);

  Child sut(display({"--snapshot", "--contrast", "minmax", "--wait-for-ring-s", "5"}));

  ASSERT_EQ(test::finish(sut, 30s), 0) << sut.err();
  const auto sequences = snapshots();
  ASSERT_EQ(sequences.size(), 1U) << sut.err();
  EXPECT_EQ(sequences[0], 2U) << "a newest consumer shows the newest frame";
  const cv::Mat image = read(sequences[0]);
  ASSERT_EQ(image.type(), CV_8UC1);
  ASSERT_EQ(image.size(), cv::Size(kWidth, kHeight));
  const cv::Mat expected = minmax_stretch(pattern(sequences[0]));
  EXPECT_EQ(cv::norm(image, expected, cv::NORM_INF), 0.0);
  EXPECT_EQ(image.at<std::uint8_t>(0, 0), 0);
  EXPECT_EQ(image.at<std::uint8_t>(kHeight - 1, kWidth - 1), 255);
  const cv::Mat latest = cv::imread((dir_ / "latest.png").string(), cv::IMREAD_UNCHANGED);
  ASSERT_FALSE(latest.empty());
  EXPECT_EQ(cv::norm(latest, expected, cv::NORM_INF), 0.0);
}

TEST_F(DisplaySnapshots, ColormapSnapshotIsTheBgrColourMapOfTheStretchedPattern) {
  test::Watchdog watchdog(60s);
  publish_and_exit(5);

  Child sut(display({"--snapshot", "--contrast", "minmax", "--colormap", "inferno", "--wait-for-ring-s", "5"}));

  ASSERT_EQ(test::finish(sut, 30s), 0) << sut.err();
  const auto sequences = snapshots();
  ASSERT_EQ(sequences.size(), 1U) << sut.err();
  const cv::Mat image = read(sequences[0]);
  ASSERT_EQ(image.type(), CV_8UC3);
  cv::Mat expected;
  cv::applyColorMap(minmax_stretch(pattern(sequences[0])), expected, cv::COLORMAP_INFERNO);
  EXPECT_EQ(cv::norm(image, expected, cv::NORM_INF), 0.0);
}

TEST_F(DisplaySnapshots, SnapshotRawHoldsTheFrameCountsAsASixteenBitPng) {
  test::Watchdog watchdog(60s);
  publish_and_exit(4);

  Child sut(display({"--snapshot", "--snapshot-raw", "--wait-for-ring-s", "5"}));

  ASSERT_EQ(test::finish(sut, 30s), 0) << sut.err();
  const auto sequences = snapshots();
  ASSERT_EQ(sequences.size(), 1U) << sut.err();
  const cv::Mat image = read(sequences[0]);
  ASSERT_EQ(image.type(), CV_16UC1);
  EXPECT_EQ(cv::norm(image, pattern(sequences[0]), cv::NORM_INF), 0.0);
}

// Issue 12: an RGB8 ring is shown in colour. The RGB8 test pattern's samples are
// (sequence + x + 3y + 85c) & 0xFF: the snapshot is that, stretched over all three channels,
// in OpenCV's B, G, R order; --snapshot-raw keeps the counts (the PNG in B, G, R as PNG wants).
TEST_F(DisplaySnapshots, AnRgbRingIsShownInColourAndItsRawSnapshotKeepsEverySample) {
  test::Watchdog watchdog(60s);
  publish_and_exit(3, "RGB8");
  cv::Mat rgb(kHeight, kWidth, CV_8UC3);
  for (int y = 0; y < kHeight; ++y) {
    for (int x = 0; x < kWidth; ++x) {
      for (int c = 0; c < 3; ++c) rgb.at<cv::Vec3b>(y, x)[c] = static_cast<std::uint8_t>((2 + x + 3 * y + 85 * c) & 0xFF);
    }
  }
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);

  Child raw(display({"--snapshot", "--snapshot-raw", "--wait-for-ring-s", "5"}));
  ASSERT_EQ(test::finish(raw, 30s), 0) << raw.err();
  ASSERT_EQ(snapshots(), std::vector<std::uint64_t>{2}) << raw.err();
  const cv::Mat counts = read(2);
  ASSERT_EQ(counts.type(), CV_8UC3);
  EXPECT_EQ(cv::norm(counts, bgr, cv::NORM_INF), 0.0) << "the samples as published, channels in PNG order";

  Child shown(display({"--snapshot", "--contrast", "fixed", "--fixed-min", "0", "--fixed-max", "255",
                       "--wait-for-ring-s", "5"}));
  ASSERT_EQ(test::finish(shown, 30s), 0) << shown.err();
  const cv::Mat image = read(2);
  ASSERT_EQ(image.type(), CV_8UC3) << "colour, not a colour map";
  EXPECT_EQ(cv::norm(image, bgr, cv::NORM_INF), 0.0) << "a fixed 0..255 stretch of 8-bit samples is the identity";
}

TEST_F(DisplaySnapshots, PeriodicSnapshotsHaveIncreasingSequencesAndEachHoldsItsOwnFrame) {
  test::Watchdog watchdog(90s);
  Child producer(test::peer_argv("produce", instance_,
                                 {"--ring", "raw", "--width", std::to_string(kWidth), "--height", std::to_string(kHeight),
                                  "--slots", "4", "--frames", "100000000", "--rate-hz", "200"}));

  Child sut(display({"--snapshot-every-s", "0.05", "--frames", "3", "--contrast", "minmax", "--wait-for-ring-s", "20"}));

  ASSERT_EQ(test::finish(sut, 60s), 0) << sut.err();
  const auto sequences = snapshots();
  ASSERT_EQ(sequences.size(), 3U) << sut.err();
  EXPECT_TRUE(std::is_sorted(sequences.begin(), sequences.end()));
  EXPECT_EQ(std::adjacent_find(sequences.begin(), sequences.end()), sequences.end()) << "a frame written twice";
  for (std::uint64_t s : sequences) {
    const cv::Mat image = read(s);
    ASSERT_FALSE(image.empty()) << s;
    EXPECT_EQ(cv::norm(image, minmax_stretch(pattern(s)), cv::NORM_INF), 0.0) << "sequence " << s;
  }
  const cv::Mat latest = cv::imread((dir_ / "latest.png").string(), cv::IMREAD_UNCHANGED);
  ASSERT_FALSE(latest.empty());
  EXPECT_EQ(cv::norm(latest, read(sequences.back()), cv::NORM_INF), 0.0) << "latest.png is the newest snapshot";
  EXPECT_NE(sut.err().find("ended (frames done)"), std::string::npos) << "summary line at exit: " << sut.err();
}

TEST_F(DisplaySnapshots, SigtermStopsItWithExitZeroAndASummaryLine) {
  test::Watchdog watchdog(90s);
  Child producer(test::peer_argv("produce", instance_,
                                 {"--ring", "raw", "--width", std::to_string(kWidth), "--height", std::to_string(kHeight),
                                  "--slots", "4", "--frames", "100000000", "--rate-hz", "200"}));
  Child sut(display({"--snapshot-every-s", "3600", "--wait-for-ring-s", "20"}));
  ASSERT_TRUE(test::wait_until([&] { return !snapshots().empty(); }, 30s)) << sut.err();

  sut.signal(SIGTERM);

  ASSERT_EQ(test::finish(sut, 30s), 0) << sut.err();
  EXPECT_NE(sut.err().find("ended (SIGTERM)"), std::string::npos) << sut.err();
}

TEST_F(DisplaySnapshots, UnwritableSnapshotDirectoryExitsTwoNamingThePath) {
  test::Watchdog watchdog(60s);
  const fs::path file = dir_ / "a-file";
  std::ofstream(file) << "not a directory";
  const fs::path bad = file / "shots";

  const auto result = test::run(test::framering_argv({"display", "--instance", instance_, "--ring", "raw", "--headless",
                                                      "--snapshot", "--snapshot-dir", bad.string()}),
                                 30s);

  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find(bad.string()), std::string::npos) << result.err;
}

TEST_F(DisplaySnapshots, MissingRingExitsTwoNamingTheRingAfterTheWait) {
  test::Watchdog watchdog(60s);

  const auto result = test::run(display({"--snapshot", "--wait-for-ring-s", "0.5"}), 30s);

  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("ring 'raw'"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find(instance_), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("--wait-for-ring-s"), std::string::npos) << result.err;
}

TEST_F(DisplaySnapshots, PercentilesOutOfOrderExitTwoNamingTheOptions) {
  test::Watchdog watchdog(60s);

  const auto result = test::run(display({"--snapshot", "--percentile-low", "60", "--percentile-high", "40"}), 30s);

  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("--percentile-low 60"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("--percentile-high 40"), std::string::npos) << result.err;
}

TEST_F(DisplaySnapshots, UnknownColormapIsACommandLineErrorListingTheValidNames) {
  test::Watchdog watchdog(60s);
  const auto result = test::run(display({"--snapshot", "--colormap", "virdis"}), 30s);

  EXPECT_GE(result.exit_code, 100) << result.err;
  EXPECT_NE(result.err.find("viridis"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace framering::display
