// `framering led` against a real producer (ring_peer): the mmap file holds the sampled test
// pattern at skyscreen's offsets with a whole-frame sidecar, the preview PNG appears, frames
// sent and skipped show in the ring's consumer table (what `framering status` prints), and bad
// geometry, an unwritable mmap path and a host that does not resolve fail to start clearly.
#include <signal.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "led_expected.hpp"
#include "ring_process.hpp"
#include "test_support.hpp"

namespace framering::led {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test::Child;

std::vector<std::uint8_t> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class LedStage : public ::testing::Test {
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

  // `framering led` on this test's instance with the test geometry and a colour pipeline that
  // leaves the pattern's counts as they are (fixed 0..255, gamma 1, no cap).
  [[nodiscard]] std::vector<std::string> led(std::vector<std::string> extra) const {
    std::vector<std::string> argv{"led",       "--instance",       instance_, "--ring",          "processed",
                                  "--vanes",   "36",               "--leds-per-vane", "20",     "--hub-fraction",
                                  "0.1",       "--contrast",       "fixed",   "--fixed-min",     "0",
                                  "--fixed-max", "255",            "--gamma", "1",               "--brightness-cap",
                                  "1",         "--wait-for-ring-s", "20"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return test::framering_argv(argv);
  }

  // A producer of "processed" that publishes frame 0 (the sequence pattern) and stops itself.
  [[nodiscard]] Child one_frame_producer() const {
    return Child(test::peer_argv("produce", instance_,
                                 {"--ring", "processed", "--width", "64", "--height", "48", "--frames", "10",
                                  "--stop-at", "1"}));
  }

  [[nodiscard]] bool stopped_after_one_frame(const Child& producer) const {
    return test::wait_until(
        [&] {
          const auto status = test::ring_status(instance_, "processed");
          return test::process_state(producer.pid()) == 'T' && status && status->published == 1;
        },
        20s);
  }

  std::string instance_;
  fs::path dir_;
};

TEST_F(LedStage, MmapFileHoldsTheSampledFrameAtSkyscreenOffsetsAndThePreviewAppears) {
  test::Watchdog watchdog(60s);
  Child producer = one_frame_producer();
  ASSERT_TRUE(stopped_after_one_frame(producer));
  const fs::path file = dir_ / "skyscreen";
  const fs::path preview = dir_ / "disc.png";
  const auto r = test::run(led({"--frames", "1", "--mmap", file.string(), "--preview", preview.string(),
                                "--preview-size-px", "120"}),
                           30s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string mismatch = test::check_led_file(test::LedTestGeometry{}, read_file(file), 0);
  EXPECT_EQ(mismatch, "");
  const auto side = read_file(fs::path(file.string() + ".seq"));
  ASSERT_EQ(side.size(), 64U);
  std::uint64_t seqlock = 0;
  std::uint64_t sequence = 99;
  std::memcpy(&seqlock, side.data() + 8, 8);
  std::memcpy(&sequence, side.data() + 16, 8);
  EXPECT_EQ(seqlock % 2, 0U);    // whole
  EXPECT_EQ(seqlock, 4U);        // the black frame at open, then one frame
  EXPECT_EQ(sequence, 0U);       // the ring sequence of that frame
  const cv::Mat picture = cv::imread(preview.string(), cv::IMREAD_UNCHANGED);
  ASSERT_FALSE(picture.empty()) << preview;
  EXPECT_EQ(picture.cols, 120);
  EXPECT_EQ(picture.type(), CV_8UC3);
  EXPECT_EQ(picture.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 0, 0));  // outside the disc
  producer.signal(SIGCONT);
}

TEST_F(LedStage, FramesSentAndSkippedShowInTheConsumerTable) {
  test::Watchdog watchdog(60s);
  Child producer(test::peer_argv("produce", instance_,
                                 {"--ring", "processed", "--width", "64", "--height", "48", "--frames", "1000000",
                                  "--rate-hz", "500"}));
  const fs::path file = dir_ / "skyscreen";
  Child sut(led({"--rate-hz", "20", "--mmap", file.string(), "--name", "sky"}));
  // At most 20 frames/s taken from 500 published: the rest are skipped, not lost.
  ASSERT_TRUE(test::wait_until(
      [&] {
        const auto status = test::ring_status(instance_, "processed");
        if (!status) return false;
        const auto c = test::consumer_named(*status, "sky");
        return c && c->frames_read >= 3 && c->frames_skipped > 0;
      },
      30s))
      << sut.err();
  const auto status = test::run(test::framering_argv({"status", "--instance", instance_}), 20s);
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("sky"), std::string::npos) << status.out;
  sut.signal(SIGTERM);
  EXPECT_EQ(test::finish(sut, 20s), 0) << sut.err();
  EXPECT_NE(sut.err().find("skipped"), std::string::npos);
}

struct BadStart {
  std::vector<std::string> args;
  std::string message;
};

TEST_F(LedStage, BadGeometryUnwritablePathAndUnresolvableHostFailToStartClearly) {
  test::Watchdog watchdog(60s);
  const std::string ok_out = (dir_ / "ok").string();
  const std::vector<BadStart> cases = {
      {{"--vanes", "0", "--mmap", ok_out}, "--vanes 0: expected 1..65535 vanes"},
      {{"--leds-per-vane", "0", "--mmap", ok_out}, "--leds-per-vane 0"},
      {{"--hub-fraction", "1", "--mmap", ok_out}, "hub must be smaller than the rim"},
      {{"--mmap", "/nonexistent-framering-dir/skyscreen"},
       "--mmap /nonexistent-framering-dir/skyscreen: cannot create or open the LED frame file: No such file"},
      {{"--e131-host", "no-such-host.invalid"}, "--e131-host no-such-host.invalid: cannot resolve"},
      {{"--e131-host", "127.0.0.1:0"}, "port '0' is not 1..65535"},
      {{}, "no LED output"},
  };
  for (const BadStart& c : cases) {
    std::vector<std::string> argv{"led", "--instance", instance_, "--wait-for-ring-s", "0"};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    const auto r = test::run(test::framering_argv(argv), 20s);
    EXPECT_EQ(r.exit_code, 2) << c.message << "\n" << r.err;
    EXPECT_NE(r.err.find("framering: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
  }
}

TEST(LedCli, HelpSaysLedZeroIsAtTheHubByDefaultAndTheShippedConfigChecks) {
  test::Watchdog watchdog(60s);
  const auto help = test::run(test::framering_argv({"led", "--help"}), 20s);
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("at the HUB by default"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("--led0 TEXT:{hub,rim}=hub"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("Example"), std::string::npos) << help.out;
  const auto dry = test::run(
      test::framering_argv({"run", "--config", test::source_dir() + "/config/led.toml", "--dry-run"}), 20s);
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("led --"), std::string::npos) << dry.out;
}

}  // namespace
}  // namespace framering::led
