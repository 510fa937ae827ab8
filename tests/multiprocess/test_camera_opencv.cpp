// The real `framering acquire --source opencv`: a V4L2 device that is not there is a clear
// error naming it (this machine has none), and a video file through the same VideoCapture path
// arrives as Mono8 grey frames equal to OpenCV's own conversion; the example camera pipelines
// (config/genicam.toml, config/webcam.toml) pass every stage's own option parser.
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "framering/common/ring_reader.hpp"
#include "framering/common/ring_writer.hpp"
#include "ring_process.hpp"
#include "test_support.hpp"

namespace framering::acquire {
namespace {

using namespace std::chrono_literals;
using test::Child;

constexpr const char* kVideo = "/usr/share/doc/opencv-doc/examples/data/vtest.avi";

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class OpenCvSourceStage : public ::testing::Test {
 protected:
  void SetUp() override { instance_ = test::unique_instance(); }
  void TearDown() override { test::remove_instance(instance_); }

  [[nodiscard]] test::RunResult acquire(std::vector<std::string> extra) const {
    std::vector<std::string> args{"acquire", "--instance", instance_, "--source", "opencv"};
    args.insert(args.end(), extra.begin(), extra.end());
    return test::run(test::framering_argv(std::move(args)), 30s);
  }

  // Creates the 768x576 ring of vtest.avi in `format` (so that a consumer attached now sees frame
  // 0) and attaches this test's every consumer to it.
  [[nodiscard]] ring::RingReader video_ring(PixelFormat format) const {
    ring::RingGeometry g;
    g.frame.width = 768;
    g.frame.height = 576;
    g.frame.pixel_format = format;
    g.slot_count = 8;
    g.max_consumers = 16;
    { const auto writer = ring::RingWriter::create_or_attach(instance_, "raw", g); }
    ring::ReaderOptions options;
    options.name = "check";
    options.kind = ring::ConsumerKind::Every;
    options.expected = g;
    return ring::RingReader::attach(instance_, "raw", options);
  }

  std::string instance_;
};

TEST_F(OpenCvSourceStage, MissingV4l2DevicePathIsAClearError) {
  test::Watchdog watchdog(40s);
  const std::string device = "/dev/video" + std::to_string(90 + ::getpid() % 9);
  ASSERT_FALSE(std::filesystem::exists(device));
  const auto r = acquire({"--device", device});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "framering: --device '" + device + "': no V4L2 device " + device)) << r.err;
  EXPECT_TRUE(contains(r.err, "devices present:")) << r.err;
  EXPECT_FALSE(test::ring_status(instance_).has_value());
}

TEST_F(OpenCvSourceStage, MissingV4l2DeviceIndexIsAClearError) {
  test::Watchdog watchdog(40s);
  ASSERT_FALSE(std::filesystem::exists("/dev/video63"));
  const auto r = acquire({"--device", "63"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "no V4L2 device /dev/video63")) << r.err;
}

TEST_F(OpenCvSourceStage, MissingFileOrUrlIsAClearError) {
  test::Watchdog watchdog(40s);
  const auto r = acquire({"--device", "/tmp/framering-no-such-video.avi"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "no such V4L2 device, URL or video file")) << r.err;
}

TEST_F(OpenCvSourceStage, VideoFileArrivesAsMono8GreyFramesEqualToOpenCvsConversion) {
  if (!std::filesystem::exists(kVideo)) GTEST_SKIP() << kVideo << " is not installed (opencv-doc)";
  test::Watchdog watchdog(50s);
  constexpr std::uint64_t kFrames = 30;
  auto reader = video_ring(PixelFormat::Mono8);
  cv::VideoCapture reference(kVideo, cv::CAP_FFMPEG);
  ASSERT_TRUE(reference.isOpened());

  Child producer(test::framering_argv({"acquire", "--instance", instance_, "--log-level", "info", "--source", "opencv",
                                       "--device", kVideo, "--pixel-format", "Mono8", "--slots", "8", "--rate-hz", "0",
                                       "--frames", std::to_string(kFrames)}));
  cv::Mat colour;
  cv::Mat grey;
  std::uint64_t differing = 0;
  for (std::uint64_t i = 0; i < kFrames; ++i) {
    const auto frame = reader.read(20s);
    ASSERT_TRUE(frame.has_value()) << "frame " << i << ": " << producer.err();
    ASSERT_EQ(frame->width, 768U);
    ASSERT_EQ(frame->height, 576U);
    ASSERT_EQ(frame->pixel_format, PixelFormat::Mono8);
    EXPECT_EQ(frame->camera_frame_id, i);
    ASSERT_TRUE(reference.read(colour));
    cv::cvtColor(colour, grey, cv::COLOR_BGR2GRAY);
    for (int y = 0; y < grey.rows; ++y) {
      if (std::memcmp(frame->pixels.data() + static_cast<std::uint64_t>(y) * frame->stride_bytes, grey.ptr(y), 768) != 0) {
        ++differing;
      }
    }
    ASSERT_TRUE(reader.release(*frame));
  }
  EXPECT_EQ(differing, 0U) << "rows that differ from cv::cvtColor(BGR2GRAY)";
  EXPECT_EQ(test::finish(producer, 30s), 0) << producer.err();
  EXPECT_TRUE(contains(producer.err(), "768x576")) << "the real size is logged: " << producer.err();
  EXPECT_TRUE(contains(producer.err(), "fps as reported")) << producer.err();
}

// Issue 12: a V4L2 device or stream keeps its colour in an RGB8 ring (the video stands in for the
// device: the same source and the same conversion).
TEST_F(OpenCvSourceStage, AnRgb8RingGetsTheDevicesColourFramesAsDecoded) {
  if (!std::filesystem::exists(kVideo)) GTEST_SKIP() << kVideo << " is not installed (opencv-doc)";
  test::Watchdog watchdog(50s);
  constexpr std::uint64_t kFrames = 10;
  auto reader = video_ring(PixelFormat::RGB8);
  cv::VideoCapture reference(kVideo, cv::CAP_FFMPEG);
  ASSERT_TRUE(reference.isOpened());

  Child producer(test::framering_argv({"acquire", "--instance", instance_, "--source", "opencv", "--device", kVideo,
                                       "--pixel-format", "RGB8", "--slots", "8", "--rate-hz", "0", "--frames",
                                       std::to_string(kFrames)}));
  cv::Mat bgr;
  cv::Mat rgb;
  for (std::uint64_t i = 0; i < kFrames; ++i) {
    const auto frame = reader.read(20s);
    ASSERT_TRUE(frame.has_value()) << "frame " << i << ": " << producer.err();
    ASSERT_EQ(frame->pixel_format, PixelFormat::RGB8);
    ASSERT_TRUE(reference.read(bgr));
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    const cv::Mat published(576, 768, CV_8UC3, const_cast<std::byte*>(frame->pixels.data()), frame->stride_bytes);
    EXPECT_EQ(cv::norm(published, rgb, cv::NORM_INF), 0.0) << "frame " << i;
    ASSERT_TRUE(reader.release(*frame));
  }
  EXPECT_EQ(test::finish(producer, 30s), 0) << producer.err();
}

TEST(CameraConfigs, GenicamAndWebcamPipelinesPassEveryStagesOwnParser) {
  test::Watchdog watchdog(50s);
  for (const std::string name : {"genicam.toml", "webcam.toml"}) {
    const auto r = test::run({test::framering_bin(), "run", "--dry-run", "--config", test::source_dir() + "/config/" + name}, 20s);
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
    EXPECT_TRUE(contains(r.out, "framering acquire")) << r.out;
  }
}

}  // namespace
}  // namespace framering::acquire
