// The real `framering acquire` process producing into a real ring, checked through this
// process's own mapping: an every consumer gets every frame with verified content, the file
// source publishes a video as Mono16 grey, a restarted producer continues the sequence, drops
// are counted when an every consumer holds its slot, SIGTERM ends a run with 0, and inputs that
// cannot work end it with 2 and a message naming them.
//
// A consumer that must see frame 0 attaches before the producer starts: the test creates the
// ring with acquire's geometry and detaches, acquire then re-attaches to it as a compatible ring.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "framering/common/ring_reader.hpp"
#include "framering/common/ring_writer.hpp"
#include "framering/common/sequence_pattern.hpp"
#include "ring_process.hpp"
#include "test_support.hpp"

namespace framering::acquire {
namespace {

using namespace std::chrono_literals;
using test::Child;

constexpr const char* kVideo = "/usr/share/doc/opencv-doc/examples/data/vtest.avi";

ring::RingGeometry geometry(std::uint32_t width, std::uint32_t height, std::uint32_t slots = 16,
                            PixelFormat format = PixelFormat::Mono16) {
  ring::RingGeometry g;
  g.frame.width = width;
  g.frame.height = height;
  g.frame.pixel_format = format;
  g.slot_count = slots;
  g.max_consumers = 16;
  return g;
}

FrameShape shape_of(const ring::FrameView& f) { return {f.width, f.height, f.pixel_format, f.stride_bytes}; }

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class AcquireStage : public ::testing::Test {
 protected:
  void SetUp() override { instance_ = test::unique_instance(); }
  void TearDown() override {
    test::remove_instance(instance_);
    if (!folder_.empty()) std::filesystem::remove_all(folder_);
  }

  [[nodiscard]] std::vector<std::string> acquire(std::vector<std::string> extra) const {
    std::vector<std::string> args{"acquire", "--instance", instance_, "--log-level", "info"};
    args.insert(args.end(), extra.begin(), extra.end());
    return test::framering_argv(std::move(args));
  }

  // Creates the ring with the geometry acquire will ask for, and leaves it producer-less.
  void create_ring(const ring::RingGeometry& g) const {
    const auto writer = ring::RingWriter::create_or_attach(instance_, "raw", g);
  }

  [[nodiscard]] ring::RingReader every(const ring::RingGeometry& g) const {
    ring::ReaderOptions options;
    options.name = "rec";
    options.kind = ring::ConsumerKind::Every;
    options.expected = g;
    options.stall_timeout = 100s;  // never evicted while the test holds it on purpose
    return ring::RingReader::attach(instance_, "raw", options);
  }

  // A fresh folder for this test's images, removed in TearDown.
  [[nodiscard]] std::filesystem::path image_folder() {
    folder_ = std::filesystem::temp_directory_path() / (instance_ + "-images");
    std::filesystem::remove_all(folder_);
    std::filesystem::create_directories(folder_);
    return folder_;
  }

  std::string instance_;
  std::filesystem::path folder_;
};

TEST_F(AcquireStage, EveryConsumerGetsAllTestPatternFramesInOrderWithIntactContent) {
  test::Watchdog watchdog(90s);
  constexpr std::uint64_t kFrames = 500;
  const auto g = geometry(64, 48);
  create_ring(g);
  auto reader = every(g);

  Child producer(acquire({"--source", "pattern", "--scene", "testpattern", "--width", "64", "--height", "48", "--frames",
                          std::to_string(kFrames), "--rate-hz", "0"}));

  std::uint64_t bad_content = 0;
  for (std::uint64_t i = 0; i < kFrames; ++i) {
    const auto frame = reader.read(20s);
    ASSERT_TRUE(frame.has_value()) << "frame " << i << ": " << producer.err();
    EXPECT_FALSE(frame->gap.has_value()) << "frame " << i;
    ASSERT_EQ(frame->sequence, i);
    EXPECT_EQ(frame->camera_frame_id, i) << "frames rendered since start";
    EXPECT_GT(frame->timestamp_ns, 0U);
    if (check_sequence_pattern(frame->pixels, shape_of(*frame), frame->sequence)) ++bad_content;
    ASSERT_TRUE(reader.release(*frame));
  }
  EXPECT_EQ(bad_content, 0U);
  ASSERT_EQ(test::finish(producer, 30s), 0) << producer.err();
  EXPECT_TRUE(contains(producer.err(), "published 500 frames")) << producer.err();
  EXPECT_EQ(reader.counters().frames_lost, 0U);
}

TEST_F(AcquireStage, ColourAndBayerTestPatternsEncodeTheSequenceInEverySample) {
  test::Watchdog watchdog(90s);
  for (const PixelFormat format : {PixelFormat::RGB8, PixelFormat::BayerRG8, PixelFormat::BayerBG16}) {
    SCOPED_TRACE(std::string(to_string(format)));
    const auto g = geometry(33, 7, 8, format);
    create_ring(g);
    {
      auto reader = every(g);
      Child producer(acquire({"--scene", "testpattern", "--width", "33", "--height", "7", "--pixel-format",
                              std::string(to_string(format)), "--frames", "40", "--rate-hz", "0", "--slots", "8"}));
      std::uint64_t bad_content = 0;
      for (std::uint64_t i = 0; i < 40; ++i) {
        const auto frame = reader.read(20s);
        ASSERT_TRUE(frame.has_value()) << "frame " << i << ": " << producer.err();
        ASSERT_EQ(frame->sequence, i);
        ASSERT_EQ(frame->pixel_format, format);
        ASSERT_EQ(frame->row<std::uint8_t>(0).size(), format == PixelFormat::RGB8 ? 99U : 33U) << "samples per row";
        if (check_sequence_pattern(frame->pixels, shape_of(*frame), frame->sequence)) ++bad_content;
        ASSERT_TRUE(reader.release(*frame));
      }
      EXPECT_EQ(bad_content, 0U);
      ASSERT_EQ(test::finish(producer, 30s), 0) << producer.err();
      EXPECT_TRUE(contains(producer.err(), std::string(to_string(format)))) << producer.err();
    }
    test::remove_instance(instance_);
  }
}

TEST_F(AcquireStage, AScenesOtherThanTheTestPatternRefuseColourNamingSceneAndFormat) {
  const auto result = test::run(acquire({"--scene", "microscopy", "--pixel-format", "RGB8", "--frames", "1"}), 30s);
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_TRUE(contains(result.err, "--scene microscopy draws grey (Mono8..Mono16) frames, not RGB8")) << result.err;
  EXPECT_FALSE(test::ring_status(instance_).has_value()) << "no ring for a source that cannot start";
}

TEST_F(AcquireStage, FilesIntoABayerRingAreRefusedWithTheReason) {
  if (!std::filesystem::exists(kVideo)) GTEST_SKIP() << kVideo << " is not installed (opencv-doc)";
  const auto result = test::run(acquire({"--source", "files", "--path", kVideo, "--pixel-format", "BayerRG8"}), 30s);
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_TRUE(contains(result.err, "--source files: a decoded image cannot be made into the BayerRG8 ring"))
      << result.err;
}

TEST_F(AcquireStage, FilesSourceKeepsAVideosColourInAnRgb8Ring) {
  if (!std::filesystem::exists(kVideo)) GTEST_SKIP() << kVideo << " is not installed (opencv-doc)";
  test::Watchdog watchdog(90s);
  constexpr std::uint64_t kFrames = 20;
  const auto g = geometry(768, 576, 16, PixelFormat::RGB8);
  create_ring(g);
  auto reader = every(g);
  cv::VideoCapture reference(kVideo);
  ASSERT_TRUE(reference.isOpened());

  Child producer(acquire({"--source", "files", "--path", kVideo, "--pixel-format", "RGB8", "--frames",
                          std::to_string(kFrames), "--rate-hz", "0"}));

  cv::Mat bgr;
  cv::Mat expected;
  for (std::uint64_t i = 0; i < kFrames; ++i) {
    const auto frame = reader.read(20s);
    ASSERT_TRUE(frame.has_value()) << "frame " << i << ": " << producer.err();
    ASSERT_EQ(frame->pixel_format, PixelFormat::RGB8);
    ASSERT_TRUE(reference.read(bgr));
    cv::cvtColor(bgr, expected, cv::COLOR_BGR2RGB);
    const cv::Mat published(576, 768, CV_8UC3, const_cast<std::byte*>(frame->pixels.data()), frame->stride_bytes);
    EXPECT_EQ(cv::norm(published, expected, cv::NORM_INF), 0.0) << "frame " << i << ": R, G, B as decoded";
    cv::Mat channels[3];
    cv::split(published, channels);
    EXPECT_GT(cv::norm(channels[0], channels[2], cv::NORM_L1), 0.0) << "a colour picture, not grey: frame " << i;
    ASSERT_TRUE(reader.release(*frame));
  }
  ASSERT_EQ(test::finish(producer, 30s), 0) << producer.err();
}

TEST_F(AcquireStage, FilesSourcePublishesAVideoAsGreyMono16FramesScaledBy257) {
  if (!std::filesystem::exists(kVideo)) GTEST_SKIP() << kVideo << " is not installed (opencv-doc)";
  test::Watchdog watchdog(90s);
  constexpr std::uint64_t kFrames = 50;
  const auto g = geometry(768, 576);
  create_ring(g);
  auto reader = every(g);
  cv::VideoCapture reference(kVideo);
  ASSERT_TRUE(reference.isOpened());

  Child producer(acquire({"--source", "files", "--path", kVideo, "--frames", std::to_string(kFrames), "--rate-hz", "0"}));

  cv::Mat colour;
  cv::Mat grey;
  cv::Mat expected;
  for (std::uint64_t i = 0; i < kFrames; ++i) {
    const auto frame = reader.read(20s);
    ASSERT_TRUE(frame.has_value()) << "frame " << i << ": " << producer.err();
    ASSERT_EQ(frame->width, 768U);
    ASSERT_EQ(frame->height, 576U);
    ASSERT_EQ(frame->pixel_format, PixelFormat::Mono16);
    EXPECT_EQ(frame->sequence, i);
    EXPECT_EQ(frame->camera_frame_id, i) << "the frame's index in the video";
    ASSERT_TRUE(reference.read(colour));
    cv::cvtColor(colour, grey, cv::COLOR_BGR2GRAY);
    grey.convertTo(expected, CV_16U, 257.0);
    const cv::Mat published(576, 768, CV_16UC1, const_cast<std::byte*>(frame->pixels.data()), frame->stride_bytes);
    EXPECT_EQ(cv::norm(published, expected, cv::NORM_INF), 0.0) << "frame " << i;
    double low = 0;
    double high = 0;
    cv::minMaxLoc(published, &low, &high);
    EXPECT_GT(high - low, 100.0 * 257.0) << "a real picture, not a flat frame: frame " << i;
    ASSERT_TRUE(reader.release(*frame));
  }
  ASSERT_EQ(test::finish(producer, 30s), 0) << producer.err();
}

TEST_F(AcquireStage, RestartedProducerContinuesTheRingsSequence) {
  test::Watchdog watchdog(90s);
  const std::vector<std::string> args{"--scene", "testpattern", "--width", "64", "--height", "48", "--rate-hz", "0"};
  std::vector<std::string> first_run = acquire(args);
  first_run.insert(first_run.end(), {"--frames", "20"});
  const auto first = test::run(first_run, 30s);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto reader = every(geometry(64, 48));

  std::vector<std::string> second_run = acquire(args);
  second_run.insert(second_run.end(), {"--frames", "30"});
  Child second(second_run);

  for (std::uint64_t i = 0; i < 30; ++i) {
    const auto frame = reader.read(20s);
    ASSERT_TRUE(frame.has_value()) << "frame " << i << ": " << second.err();
    EXPECT_EQ(frame->sequence, 20 + i);
    EXPECT_EQ(frame->camera_frame_id, i) << "the second run's own frame counter";
    EXPECT_EQ(check_sequence_pattern(frame->pixels, shape_of(*frame), frame->sequence), std::nullopt) << "frame " << i;
    ASSERT_TRUE(reader.release(*frame));
  }
  ASSERT_EQ(test::finish(second, 30s), 0) << second.err();
  EXPECT_TRUE(contains(second.err(), "re-attached at sequence 20")) << second.err();
  const auto status = test::ring_status(instance_);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->published, 50U);
}

TEST_F(AcquireStage, HeldSlotMakesClaimsTimeOutCountsTheDropsAndExitsThree) {
  test::Watchdog watchdog(90s);
  const auto g = geometry(64, 48, /*slots=*/2);
  create_ring(g);
  auto reader = every(g);  // attached, never reading: it holds slots 0 and 1

  Child producer(acquire({"--scene", "testpattern", "--width", "64", "--height", "48", "--slots", "2", "--rate-hz", "0",
                          "--claim-timeout-ms", "20"}));
  ASSERT_TRUE(test::wait_until(
      [&] {
        const auto status = test::ring_status(instance_);
        return status && status->frames_dropped >= 3;
      },
      20s))
      << producer.err();
  const auto held = test::ring_status(instance_);
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->published, 2U) << "nothing overwritten while the every consumer held the ring";
  const auto first = reader.read(1s);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->sequence, 0U);
  EXPECT_FALSE(first->gap.has_value());
  EXPECT_EQ(first->source_frames_lost, 0U);
  EXPECT_EQ(check_sequence_pattern(first->pixels, shape_of(*first), 0), std::nullopt);
  // One slot freed: the next frame acquire places carries every frame it dropped before it.
  ASSERT_TRUE(reader.release(*first));
  ASSERT_TRUE(test::wait_until(
      [&] {
        const auto status = test::ring_status(instance_);
        return status && status->published == 3;
      },
      20s))
      << producer.err();
  const std::uint64_t dropped_before_third = test::ring_status(instance_)->frames_dropped;
  producer.signal(SIGTERM);

  ASSERT_EQ(test::finish(producer, 20s), 3) << producer.err();
  EXPECT_TRUE(contains(producer.err(), "claim timeouts")) << producer.err();
  const auto second = reader.read(1s);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->source_frames_lost, 0U);
  ASSERT_TRUE(reader.release(*second));
  const auto third = reader.read(1s);
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(third->sequence, 2U);
  EXPECT_GE(third->source_frames_lost, 3U) << "the frames dropped while the slots were held";
  EXPECT_LE(third->source_frames_lost, dropped_before_third) << "not those dropped after it";
  EXPECT_EQ(test::ring_status(instance_)->source.frames_lost, 0U)
      << "a pattern loses nothing: acquire's drops are frames_dropped, not the source's loss";
  EXPECT_EQ(test::ring_status(instance_)->published, 3U);
}

TEST_F(AcquireStage, SigtermStopsAnUnboundedRunWithExitZero) {
  test::Watchdog watchdog(60s);
  Child producer(acquire({"--scene", "microscopy", "--width", "256", "--height", "256", "--rate-hz", "100"}));
  ASSERT_TRUE(test::wait_until(
      [&] {
        const auto status = test::ring_status(instance_);
        return status && status->published >= 5;
      },
      20s))
      << producer.err();

  producer.signal(SIGTERM);

  ASSERT_EQ(test::finish(producer, 20s), 0) << producer.err();
  EXPECT_TRUE(contains(producer.err(), "stopped by signal")) << producer.err();
}

TEST_F(AcquireStage, NoLoopFolderEndsAfterOnePassWithExitZero) {
  test::Watchdog watchdog(60s);
  const auto folder = image_folder();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(cv::imwrite((folder / ("f" + std::to_string(i) + ".png")).string(),
                            cv::Mat(24, 32, CV_16UC1, cv::Scalar(1000.0 * (i + 1)))));
  }

  const auto result = test::run(acquire({"--source", "files", "--path", folder.string(), "--no-loop", "--rate-hz", "0"}), 30s);

  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.err, "end of source")) << result.err;
  const auto status = test::ring_status(instance_);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->published, 3U);
  EXPECT_EQ(status->geometry.frame.width, 32U);
  EXPECT_EQ(status->geometry.frame.height, 24U);
}

TEST_F(AcquireStage, FilesWaitForAnEveryConsumerPastTheLiveTimeoutAndDropNothing) {
  test::Watchdog watchdog(90s);
  const auto folder = image_folder();
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(cv::imwrite((folder / ("f" + std::to_string(i) + ".png")).string(),
                            cv::Mat(24, 32, CV_16UC1, cv::Scalar(1000.0 * (i + 1)))));
  }
  const auto g = geometry(32, 24, /*slots=*/2);
  create_ring(g);
  auto reader = every(g);  // holds both slots until the producer has waited past kLiveClaimTimeout

  Child producer(acquire({"--source", "files", "--path", folder.string(), "--no-loop", "--rate-hz", "0", "--slots", "2"}));
  ASSERT_TRUE(test::wait_until(
      [&] {
        const auto status = test::ring_status(instance_);
        return status && status->blocked_s >= 2.0;  // twice the live sources' 1000 ms claim timeout
      },
      30s))
      << producer.err();
  const auto held = test::ring_status(instance_);
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->frames_dropped, 0U) << "a file frame waits; it is never dropped for a slow consumer";
  EXPECT_EQ(held->published, 2U);

  for (std::uint64_t i = 0; i < 4; ++i) {
    const auto frame = reader.read(20s);
    ASSERT_TRUE(frame.has_value()) << "frame " << i << ": " << producer.err();
    EXPECT_EQ(frame->sequence, i);
    EXPECT_FALSE(frame->gap.has_value());
    EXPECT_EQ(frame->camera_frame_id, i) << "every file, in order";
    ASSERT_TRUE(reader.release(*frame));
  }
  ASSERT_EQ(test::finish(producer, 30s), 0) << producer.err();
  EXPECT_FALSE(contains(producer.err(), "claim timeouts so far")) << producer.err();
}

TEST_F(AcquireStage, UnreadableFileInASequenceIsCountedAsDroppedAndExitsThree) {
  test::Watchdog watchdog(60s);
  const auto folder = image_folder();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(cv::imwrite((folder / ("f" + std::to_string(i) + ".png")).string(), cv::Mat(24, 32, CV_16UC1, cv::Scalar(7))));
  }
  std::filesystem::resize_file(folder / "f1.png", 60);  // a PNG signature and header, its pixels cut off
  const auto g = geometry(32, 24, /*slots=*/4);
  create_ring(g);
  auto reader = every(g);

  const auto result = test::run(
      acquire({"--source", "files", "--path", folder.string(), "--no-loop", "--rate-hz", "0", "--slots", "4"}), 30s);

  EXPECT_EQ(result.exit_code, 3) << result.err;
  EXPECT_TRUE(contains(result.err, "f1.png")) << "the log names the file: " << result.err;
  const auto status = test::ring_status(instance_);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->published, 2U);
  EXPECT_EQ(status->frames_dropped, 1U);
  EXPECT_EQ(status->source.frames_lost, 0U) << "counted once, as acquire's drop";
  const auto f0 = reader.read(1s);
  ASSERT_TRUE(f0.has_value());
  EXPECT_EQ(f0->source_frames_lost, 0U);
  ASSERT_TRUE(reader.release(*f0));
  const auto f2 = reader.read(1s);
  ASSERT_TRUE(f2.has_value());
  EXPECT_EQ(f2->camera_frame_id, 2U) << "the third file";
  EXPECT_EQ(f2->source_frames_lost, 1U) << "the unreadable file before it, written down with the frame after it";
}

TEST_F(AcquireStage, MissingPathExitsTwoNamingThePath) {
  const std::string path = "/nonexistent-framering-dir/stack.tif";

  const auto result = test::run(acquire({"--source", "files", "--path", path}), 30s);

  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_TRUE(contains(result.err, path)) << result.err;
  EXPECT_FALSE(test::ring_status(instance_).has_value()) << "no ring for a source that cannot start";
}

TEST_F(AcquireStage, UnknownPixelFormatExitsTwoNamingTheFormat) {
  const auto result = test::run(acquire({"--pixel-format", "Mono17", "--frames", "1"}), 30s);

  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_TRUE(contains(result.err, "Mono17")) << result.err;
  EXPECT_TRUE(contains(result.err, "Mono16")) << "says what was expected: " << result.err;
  EXPECT_TRUE(contains(result.err, "RGB8")) << "and the colour formats: " << result.err;
}

TEST_F(AcquireStage, WidthContradictingTheVideoExitsTwoNamingBothSizes) {
  if (!std::filesystem::exists(kVideo)) GTEST_SKIP() << kVideo << " is not installed (opencv-doc)";

  const auto result = test::run(acquire({"--source", "files", "--path", kVideo, "--width", "640"}), 30s);

  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_TRUE(contains(result.err, "768x576")) << result.err;
  EXPECT_TRUE(contains(result.err, kVideo)) << result.err;
}

}  // namespace
}  // namespace framering::acquire
