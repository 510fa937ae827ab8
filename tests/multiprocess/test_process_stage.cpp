// `framering process` between real processes: a ring_peer producer writing the sequence pattern
// into "raw", the real framering binary filtering it into "processed", and this test as a
// consumer of "processed" checking every output frame against the pattern of the input frame
// it came from (camera_frame_id = the input's ring sequence). Processes are paused at known
// points (ring_peer's --stop-at, SIGSTOP of the stage) instead of sleeping.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "framering/common/ring_reader.hpp"
#include "framering/common/ring_writer.hpp"
#include "framering/common/sequence_pattern.hpp"
#include "ring_process.hpp"
#include "test_support.hpp"

namespace framering::process {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using test::Child;

std::string str(std::uint64_t value) { return std::to_string(value); }

class ProcessStage : public ::testing::Test {
 protected:
  void SetUp() override { instance_ = test::unique_instance(); }
  void TearDown() override {
    test::remove_instance(instance_);
    std::error_code ec;
    std::filesystem::remove_all(wisdom_dir(), ec);
  }

  // This test's own wisdom files, never the user's cache.
  [[nodiscard]] std::filesystem::path wisdom_dir() const {
    return std::filesystem::temp_directory_path() / ("framering-wisdom-" + instance_);
  }

  [[nodiscard]] std::vector<std::string> peer(const std::string& role, std::vector<std::string> extra) const {
    return test::peer_argv(role, instance_, std::move(extra));
  }

  [[nodiscard]] std::vector<std::string> process(std::vector<std::string> extra) const {
    std::vector<std::string> argv{"process", "--instance", instance_, "--planner", "estimate", "--no-wisdom"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return test::framering_argv(argv);
  }

  [[nodiscard]] std::uint64_t published(const std::string& ring) const {
    const auto status = test::ring_status(instance_, ring);
    return status ? status->published : 0;
  }

  [[nodiscard]] bool producer_stopped_at(const Child& producer, std::uint64_t sequence) const {
    return test::wait_until(
        [&] { return test::process_state(producer.pid()) == 'T' && published("raw") == sequence; }, 20s);
  }

  // This test's own every consumer of "processed".
  [[nodiscard]] ring::RingReader attach_output_reader() const {
    ring::ReaderOptions ro;
    ro.name = "check";
    ro.kind = ring::ConsumerKind::Every;
    ro.stall_timeout = 60s;
    return ring::RingReader::attach(instance_, "processed", ro);
  }

  void expect_identity_frames_unchanged_in(const std::string& layout);

  std::string instance_;
};

// What the test saw on "processed".
struct OutputCheck {
  std::uint64_t frames = 0;
  std::uint64_t bad_content = 0;
  std::uint64_t not_increasing = 0;  ///< camera_frame_id (input sequence) not above the previous one
  std::uint64_t gaps = 0;
  std::optional<std::uint64_t> last_input_sequence;
  std::vector<std::uint64_t> input_sequences;
};

// Reads "processed" until it has seen the frame made from input sequence `last_input` (or
// `max_frames` frames), checking each against the pattern of its input sequence.
OutputCheck read_output(ring::RingReader& reader, std::uint64_t last_input, std::uint64_t max_frames) {
  OutputCheck check;
  while (check.frames < max_frames && check.last_input_sequence != last_input) {
    auto frame = reader.read(20s);
    if (!frame) {
      ADD_FAILURE() << "no output frame within 20 s after " << check.frames << " frames";
      break;
    }
    if (frame->gap) ++check.gaps;
    const std::uint64_t input_sequence = frame->camera_frame_id;
    const bool ok = !check_sequence_pattern(frame->pixels, {frame->width, frame->height, frame->pixel_format,
                                                            frame->stride_bytes},
                                            input_sequence)
                         .has_value();
    EXPECT_TRUE(reader.release(*frame));
    if (!ok) ++check.bad_content;
    if (check.last_input_sequence && input_sequence <= *check.last_input_sequence) ++check.not_increasing;
    check.last_input_sequence = input_sequence;
    check.input_sequences.push_back(input_sequence);
    ++check.frames;
  }
  return check;
}

TEST_F(ProcessStage, EveryConsumerIdentityPublishesEveryInputFrameUnchangedAndInOrder) {
  test::Watchdog watchdog(90s);
  constexpr std::uint64_t kFrames = 300;
  Child producer(peer("produce", {"--ring", "raw", "--width", "64", "--height", "48", "--slots", "8", "--frames",
                                  str(kFrames), "--stop-at", "0"}));
  ASSERT_TRUE(producer_stopped_at(producer, 0)) << producer.err();
  Child sut(process({"--mode", "identity", "--consumer", "every", "--frames", str(kFrames)}));
  ASSERT_TRUE(test::wait_attached(instance_, "process", sut.pid(), 30s)) << sut.err();
  auto reader = attach_output_reader();  // "processed" exists: the stage creates it before attaching

  producer.signal(SIGCONT);
  const OutputCheck check = read_output(reader, kFrames - 1, kFrames);

  ASSERT_EQ(test::finish(producer, 20s), 0) << producer.out() << producer.err();
  ASSERT_EQ(test::finish(sut, 20s), 0) << sut.out() << sut.err();
  std::vector<std::uint64_t> all(kFrames);
  for (std::uint64_t i = 0; i < kFrames; ++i) all[i] = i;
  EXPECT_EQ(check.input_sequences, all);  // every input frame, in order, none twice
  EXPECT_EQ(check.bad_content, 0U);
  EXPECT_EQ(check.gaps, 0U);
  const json summary = test::report_of(sut.out());
  ASSERT_TRUE(summary.is_object()) << sut.out();
  EXPECT_EQ(summary["processed"], kFrames);
  EXPECT_EQ(summary["published"], kFrames);
  EXPECT_EQ(summary["input_lost"], 0);
  EXPECT_EQ(summary["input_torn"], 0);
}

// Issue 12: RGB8 and BGR8 frames are filtered one channel at a time; the identity filter gives
// every sample back exactly, in the input's format.
TEST_F(ProcessStage, ColourFramesAreFilteredPerChannelAndComeOutInTheirFormatEverySampleExact) {
  test::Watchdog watchdog(90s);
  for (const char* format : {"RGB8", "BGR8"}) {
    SCOPED_TRACE(format);
    constexpr std::uint64_t kFrames = 40;
    Child producer(peer("produce", {"--ring", "raw", "--width", "45", "--height", "31", "--slots", "8", "--frames",
                                    str(kFrames), "--stop-at", "0", "--format", format}));
    ASSERT_TRUE(producer_stopped_at(producer, 0)) << producer.err();
    Child sut(process({"--mode", "identity", "--consumer", "every", "--frames", str(kFrames)}));
    ASSERT_TRUE(test::wait_attached(instance_, "process", sut.pid(), 30s)) << sut.err();
    {
      auto reader = attach_output_reader();
      EXPECT_EQ(to_string(reader.segment().geometry().frame.pixel_format), std::string(format));
      producer.signal(SIGCONT);
      const OutputCheck check = read_output(reader, kFrames - 1, kFrames);
      EXPECT_EQ(check.frames, kFrames);
      EXPECT_EQ(check.bad_content, 0U) << "every R, G and B sample is the input's";
    }
    ASSERT_EQ(test::finish(producer, 20s), 0) << producer.err();
    ASSERT_EQ(test::finish(sut, 20s), 0) << sut.out() << sut.err();
    EXPECT_NE(sut.err().find(std::string("Fourier filter per channel of ") + format), std::string::npos) << sut.err();
    test::remove_instance(instance_);
  }
}

// Issue 12: --mode demosaic turns a Bayer ring into an RGB8 ring with OpenCV's bilinear
// demosaic; checked against cv::cvtColor on the same mosaic (the test pattern of each input
// sequence), 16-bit mosaics scaled to 8 bits.
TEST_F(ProcessStage, DemosaicTurnsABayerRingIntoRgb8AsOpenCvsBilinearDemosaicDoes) {
  test::Watchdog watchdog(90s);
  struct Case {
    const char* format;
    int code;
    int type;
    double scale;
  };
  for (const Case& c : {Case{"BayerRG8", cv::COLOR_BayerRGGB2RGB, CV_8UC1, 1.0},
                        Case{"BayerGB16", cv::COLOR_BayerGBRG2RGB, CV_16UC1, 1.0 / 256.0},
                        Case{"BayerBG12", cv::COLOR_BayerBGGR2RGB, CV_16UC1, 1.0 / 16.0}}) {
    SCOPED_TRACE(c.format);
    constexpr std::uint64_t kFrames = 12;
    constexpr std::uint32_t kWidth = 40;
    constexpr std::uint32_t kHeight = 30;
    Child producer(peer("produce", {"--ring", "raw", "--width", str(kWidth), "--height", str(kHeight), "--slots", "8",
                                    "--frames", str(kFrames), "--stop-at", "0", "--format", c.format}));
    ASSERT_TRUE(producer_stopped_at(producer, 0)) << producer.err();
    Child sut(process({"--mode", "demosaic", "--consumer", "every", "--frames", str(kFrames)}));
    ASSERT_TRUE(test::wait_attached(instance_, "process", sut.pid(), 30s)) << sut.err();
    {
      auto reader = attach_output_reader();
      producer.signal(SIGCONT);
      const PixelFormat input = *parse_pixel_format(c.format);
      for (std::uint64_t i = 0; i < kFrames; ++i) {
        auto frame = reader.read(20s);
        ASSERT_TRUE(frame.has_value()) << sut.err();
        ASSERT_EQ(frame->pixel_format, PixelFormat::RGB8);
        const FrameShape mosaic_shape{kWidth, kHeight, input, 0};
        cv::Mat mosaic(kHeight, kWidth, c.type);
        fill_sequence_pattern({reinterpret_cast<std::byte*>(mosaic.data), mosaic.total() * mosaic.elemSize()},
                              mosaic_shape, frame->camera_frame_id);
        cv::Mat demosaiced;
        cv::Mat expected;
        cv::cvtColor(mosaic, demosaiced, c.code);
        demosaiced.convertTo(expected, CV_8U, c.scale);
        const cv::Mat got(kHeight, kWidth, CV_8UC3, const_cast<std::byte*>(frame->pixels.data()), frame->stride_bytes);
        EXPECT_EQ(cv::norm(got, expected, cv::NORM_INF), 0.0) << "frame " << i;
        ASSERT_TRUE(reader.release(*frame));
      }
    }
    ASSERT_EQ(test::finish(producer, 20s), 0) << producer.err();
    ASSERT_EQ(test::finish(sut, 20s), 0) << sut.out() << sut.err();
    EXPECT_NE(sut.err().find(std::string("demosaic ") + c.format + " -> RGB8 (OpenCV bilinear"), std::string::npos)
        << sut.err();
    test::remove_instance(instance_);
  }
}

TEST_F(ProcessStage, KilledBetweenPublishingAFrameAndReleasingItsInputARestartNeitherLosesNorRepeatsIt) {
  test::Watchdog watchdog(90s);
  Child producer(peer("produce", {"--ring", "raw", "--width", "64", "--height", "48", "--slots", "8", "--frames",
                                  "20", "--stop-at", "0"}));
  ASSERT_TRUE(producer_stopped_at(producer, 0)) << producer.err();
  // A process stage killed at its worst moment, played by a child of this test: it published
  // the output of input frames 0..5 and released inputs 0..4, then died before releasing 5.
  const pid_t killed = ::fork();
  ASSERT_GE(killed, 0);
  if (killed == 0) {
    ring::RingGeometry g{.frame = {.width = 64, .height = 48, .pixel_format = PixelFormat::Mono16}, .slot_count = 16};
    auto out = ring::RingWriter::create_or_attach(instance_, "processed", g);
    auto in = ring::RingReader::attach(instance_, "raw",
                                       {.name = "process", .kind = ring::ConsumerKind::Every, .dead_timeout = 60s});
    for (int i = 0; i <= 5; ++i) {
      auto frame = in.read(10s);
      auto slot = out.claim(10s);
      if (!frame || !slot) ::_exit(1);
      fill_sequence_pattern(slot->pixels, g.frame, frame->sequence);
      out.publish({.timestamp_ns = frame->timestamp_ns, .camera_frame_id = frame->sequence});
      if (i < 5) (void)in.release(*frame);
    }
    ::raise(SIGKILL);
  }
  ASSERT_TRUE(test::wait_attached(instance_, "process", killed, 30s));
  producer.signal(SIGCONT);  // it publishes until the dead stand-in's cursor (5) gates it
  int status = 0;
  ASSERT_EQ(::waitpid(killed, &status, 0), killed);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the stand-in must have died mid-frame, status " << status;
  auto reader = attach_output_reader();  // from the output's sequence 6 on

  Child sut(process({"--mode", "identity", "--consumer", "every", "--frames", "14", "--output-slots", "16"}));
  const OutputCheck check = read_output(reader, 19, 14);
  ASSERT_EQ(test::finish(sut, 30s), 0) << sut.err();
  ASSERT_EQ(test::finish(producer, 20s), 0) << producer.err();
  std::vector<std::uint64_t> rest;
  for (std::uint64_t i = 6; i < 20; ++i) rest.push_back(i);
  EXPECT_EQ(check.input_sequences, rest) << "input 5 was published once, before the kill: not again, not lost";
  EXPECT_EQ(check.bad_content, 0U);
  EXPECT_NE(sut.err().find("released, not published again"), std::string::npos) << sut.err();
}

// --threads 2: FFTW splits each transform across two threads of its own, which the stage's
// thread waits for; the tsan preset runs this (label threads) against a TSan-built framering.
TEST_F(ProcessStage, EveryConsumerIdentityWithTwoFftwThreadsPublishesEveryInputFrameUnchanged) {
  test::Watchdog watchdog(90s);
  constexpr std::uint64_t kFrames = 60;
  Child producer(peer("produce", {"--ring", "raw", "--width", "512", "--height", "256", "--slots", "8", "--frames",
                                  str(kFrames), "--stop-at", "0"}));
  ASSERT_TRUE(producer_stopped_at(producer, 0)) << producer.err();
  Child sut(process({"--mode", "identity", "--consumer", "every", "--threads", "2", "--frames", str(kFrames)}));
  ASSERT_TRUE(test::wait_attached(instance_, "process", sut.pid(), 30s)) << sut.err();
  auto reader = attach_output_reader();

  producer.signal(SIGCONT);
  const OutputCheck check = read_output(reader, kFrames - 1, kFrames);

  ASSERT_EQ(test::finish(producer, 20s), 0) << producer.out() << producer.err();
  ASSERT_EQ(test::finish(sut, 20s), 0) << sut.out() << sut.err();
  EXPECT_EQ(check.frames, kFrames);
  EXPECT_EQ(check.bad_content, 0U);
  EXPECT_EQ(check.not_increasing, 0U);
  EXPECT_EQ(check.gaps, 0U);
  EXPECT_NE(sut.err().find("(estimate, 2 thread(s))"), std::string::npos) << sut.err();
}

TEST_F(ProcessStage, NewestConsumerUnderAFastProducerSkipsFramesAndPublishesOnlyIntactOnes) {
  test::Watchdog watchdog(100s);
  constexpr std::uint64_t kFrames = 3000;
  // Two slots: the producer laps the stage as soon as it is two frames ahead, so tears happen.
  Child producer(peer("produce", {"--ring", "raw", "--width", "256", "--height", "256", "--slots", "2", "--frames",
                                  str(kFrames), "--stop-at", "0", "--stop-at", "200"}));
  ASSERT_TRUE(producer_stopped_at(producer, 0)) << producer.err();
  Child sut(process({"--mode", "identity", "--consumer", "newest"}));
  ASSERT_TRUE(test::wait_attached(instance_, "process", sut.pid(), 30s)) << sut.err();
  auto reader = attach_output_reader();
  // Pause the stage while it waits for its first frame, and publish 200 frames past it.
  sut.signal(SIGSTOP);
  ASSERT_TRUE(test::wait_stopped(sut, 20s));
  producer.signal(SIGCONT);
  ASSERT_TRUE(producer_stopped_at(producer, 200)) << producer.err();
  sut.signal(SIGCONT);
  const OutputCheck first = read_output(reader, 199, 1);  // the newest frame, not frame 0
  ASSERT_EQ(first.input_sequences, std::vector<std::uint64_t>{199});

  producer.signal(SIGCONT);  // the rest, flat out
  const OutputCheck rest = read_output(reader, kFrames - 1, kFrames);
  ASSERT_EQ(test::finish(producer, 30s), 0) << producer.out() << producer.err();
  sut.signal(SIGTERM);

  ASSERT_EQ(test::finish(sut, 20s), 0) << sut.out() << sut.err();
  EXPECT_EQ(rest.last_input_sequence, kFrames - 1);
  EXPECT_EQ(rest.bad_content, 0U);  // no torn frame was ever published
  EXPECT_EQ(rest.not_increasing, 0U);
  const json summary = test::report_of(sut.out());
  ASSERT_TRUE(summary.is_object()) << sut.out();
  EXPECT_GE(summary["input_skipped"].get<std::uint64_t>(), 199U);
  EXPECT_EQ(summary["published"].get<std::uint64_t>(), first.frames + rest.frames);
  EXPECT_EQ(summary["published"], summary["input_read"]);  // every intact read published, no torn one
  std::cout << "newest stage: " << summary.dump() << "\n";
}

TEST_F(ProcessStage, EveryConsumerEvictedWhileStalledExitsWithCodeThree) {
  test::Watchdog watchdog(90s);
  Child producer(peer("produce", {"--ring", "raw", "--width", "64", "--height", "48", "--slots", "8", "--frames",
                                  "100", "--stop-at", "0"}));
  ASSERT_TRUE(producer_stopped_at(producer, 0)) << producer.err();
  Child sut(process({"--mode", "lowpass", "--consumer", "every", "--frames", "1", "--stall-timeout-s", "0.2"}));
  ASSERT_TRUE(test::wait_attached(instance_, "process", sut.pid(), 30s)) << sut.err();
  sut.signal(SIGSTOP);  // stalled before its first frame: the producer fills the ring, waits, evicts it
  ASSERT_TRUE(test::wait_stopped(sut, 20s));
  producer.signal(SIGCONT);
  ASSERT_EQ(test::finish(producer, 30s), 0) << producer.out() << producer.err();

  sut.signal(SIGCONT);

  ASSERT_EQ(test::finish(sut, 20s), 3) << sut.out() << sut.err();
  const json summary = test::report_of(sut.out());
  ASSERT_TRUE(summary.is_object()) << sut.out();
  EXPECT_GT(summary["input_lost"].get<std::uint64_t>(), 0U);
  EXPECT_NE(sut.err().find("lost input frames"), std::string::npos) << sut.err();
}

TEST_F(ProcessStage, MissingInputRingExitsWithCodeTwoNamingItAfterTheWait) {
  test::Watchdog watchdog(60s);

  const auto sut = test::run(process({"--input-ring", "nosuch", "--wait-for-input-s", "0.3"}), 30s);

  EXPECT_EQ(sut.exit_code, 2) << sut.err;
  EXPECT_NE(sut.err.find("input ring 'nosuch' of instance '" + instance_ + "'"), std::string::npos) << sut.err;
  EXPECT_NE(sut.err.find("0.3 s"), std::string::npos) << sut.err;
}

TEST_F(ProcessStage, InputRingCreatedDuringTheWaitIsUsed) {
  test::Watchdog watchdog(90s);
  Child sut(process({"--mode", "identity", "--consumer", "every", "--frames", "1", "--wait-for-input-s", "30"}));
  // The stage is waiting for "raw"; create it now (stopped before its first frame).
  Child producer(peer("produce", {"--ring", "raw", "--frames", "1000", "--stop-at", "0"}));
  ASSERT_TRUE(producer_stopped_at(producer, 0)) << producer.err();
  ASSERT_TRUE(test::wait_attached(instance_, "process", sut.pid(), 30s)) << sut.err();

  producer.signal(SIGCONT);

  ASSERT_EQ(test::finish(sut, 30s), 0) << sut.out() << sut.err();
  const json summary = test::report_of(sut.out());
  ASSERT_TRUE(summary.is_object()) << sut.out();
  EXPECT_EQ(summary["processed"], 1);
  producer.signal(SIGTERM);
  (void)test::finish(producer, 20s);
}

TEST_F(ProcessStage, UnknownModeIsAParseError) {
  test::Watchdog watchdog(30s);

  const auto sut = test::run(process({"--mode", "sharpen"}), 20s);

  EXPECT_GE(sut.exit_code, 100) << sut.err;
  EXPECT_NE(sut.err.find("--mode"), std::string::npos) << sut.err;
}

// Issue 12: a ring whose format a stage cannot use is refused before the first frame, in a
// message that names the stage, the ring, the format and what the stage takes.
TEST_F(ProcessStage, ColourAndBayerRingsAreRefusedByTheStagesThatTakeGreyNamingStageFormatAndWhy) {
  test::Watchdog watchdog(90s);
  struct Case {
    const char* format;
    std::vector<std::string> argv;
    const char* message;
  };
  const std::string leds = (std::filesystem::temp_directory_path() / (instance_ + "-leds")).string();
  const std::vector<Case> cases = {
      {"RGB8", process({"--mode", "demosaic"}), "process --mode demosaic takes a Bayer mosaic (BayerRG8, BayerGB16, ...), not RGB8"},
      {"BayerRG8", process({"--mode", "lowpass", "--high-cutoff", "0.2"}),
       "process cannot filter BayerRG8 frames: neighbouring pixels of a Bayer mosaic"},
      {"BayerRG8", process({"--mode", "demosaic", "--high-cutoff", "0.2"}), "--mode demosaic has no cut-offs"},
      {"BayerGR8", test::framering_argv({"led", "--instance", instance_, "--ring", "raw", "--mmap", leds}),
       "led: ring 'raw' holds BayerGR8 frames; led takes grey frames (Mono8..Mono16, colour-mapped) and RGB8/BGR8"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    Child producer(peer("produce", {"--ring", "raw", "--format", c.format, "--frames", "2", "--stop-at", "1"}));
    ASSERT_TRUE(producer_stopped_at(producer, 1)) << producer.err();
    const auto sut = test::run(c.argv, 30s);
    EXPECT_EQ(sut.exit_code, 2) << sut.err;
    EXPECT_NE(sut.err.find(c.message), std::string::npos) << sut.err;
    producer.signal(SIGKILL);
    ASSERT_NE(producer.wait(10s), -1);
    test::remove_instance(instance_);
  }
  std::error_code ec;
  std::filesystem::remove(leds, ec);
}

TEST_F(ProcessStage, CutOffTheModeDoesNotUseIsRejected) {
  test::Watchdog watchdog(30s);
  Child producer(peer("produce", {"--ring", "raw", "--frames", "1", "--stop-at", "0"}));
  ASSERT_TRUE(producer_stopped_at(producer, 0)) << producer.err();

  const auto sut = test::run(process({"--mode", "lowpass", "--low-cutoff", "0.1"}), 20s);

  EXPECT_EQ(sut.exit_code, 2) << sut.err;
  EXPECT_NE(sut.err.find("uses --high-cutoff"), std::string::npos) << sut.err;
  producer.signal(SIGKILL);
}

TEST_F(ProcessStage, WisdomMadeAheadServesTheNextStartWhichPlansNothing) {
  test::Watchdog watchdog(90s);
  const std::string wisdom = (wisdom_dir() / "cache" / "wisdom.dat").string();
  const auto made = test::run(
      test::framering_argv({"process", "--make-wisdom", "--width", "64", "--height", "48", "--wisdom", wisdom}), 60s);
  ASSERT_EQ(made.exit_code, 0) << made.err;
  EXPECT_NE(made.err.find("plans 3-4/4: out-of-place r2c and c2r"), std::string::npos) << made.err;
  EXPECT_NE(made.err.find("wisdom saved to " + wisdom), std::string::npos) << made.err;
  Child producer(peer("produce", {"--ring", "raw", "--width", "64", "--height", "48", "--slots", "8", "--frames", "3",
                                  "--stop-at", "0"}));
  ASSERT_TRUE(producer_stopped_at(producer, 0)) << producer.err();

  // The stage's default planner (measure) takes the patient wisdom; auto plans both layouts.
  Child sut(test::framering_argv({"process", "--instance", instance_, "--wisdom", wisdom, "--mode", "identity",
                                  "--consumer", "every", "--frames", "3"}));
  ASSERT_TRUE(test::wait_attached(instance_, "process", sut.pid(), 30s)) << sut.err();
  producer.signal(SIGCONT);

  ASSERT_EQ(test::finish(sut, 30s), 0) << sut.out() << sut.err();
  EXPECT_NE(sut.err().find("plans for 64x48 (measure, 1 thread(s)) came from wisdom " + wisdom), std::string::npos)
      << sut.err();
  EXPECT_NE(sut.err().find("FFT layout "), std::string::npos) << sut.err();
  (void)test::finish(producer, 20s);
}

TEST_F(ProcessStage, MakeWisdomIntoAnUnwritablePathExitsWithCodeTwoNamingIt) {
  test::Watchdog watchdog(30s);

  const auto sut = test::run(test::framering_argv({"process", "--make-wisdom", "--width", "64", "--height", "48",
                                                   "--wisdom", "/proc/framering-no-such-dir/wisdom.dat"}),
                             20s);

  EXPECT_EQ(sut.exit_code, 2) << sut.err;
  EXPECT_NE(sut.err.find("/proc/framering-no-such-dir"), std::string::npos) << sut.err;
  EXPECT_EQ(sut.err.find("plans 1-2/4"), std::string::npos) << sut.err;  // failed before planning
}

TEST_F(ProcessStage, WidthWithoutMakeWisdomIsAParseError) {
  test::Watchdog watchdog(30s);

  const auto sut = test::run(process({"--width", "64"}), 20s);

  EXPECT_GE(sut.exit_code, 100) << sut.err;
  EXPECT_NE(sut.err.find("--make-wisdom"), std::string::npos) << sut.err;
}

// 63x47: an odd width, one padding float per in-place row.
void ProcessStage::expect_identity_frames_unchanged_in(const std::string& layout) {
  Child producer(peer("produce", {"--ring", "raw", "--width", "63", "--height", "47", "--slots", "8", "--frames", "5",
                                  "--stop-at", "0"}));
  ASSERT_TRUE(producer_stopped_at(producer, 0)) << producer.err();
  Child sut(process({"--fft-layout", layout, "--mode", "identity", "--consumer", "every", "--frames", "5"}));
  ASSERT_TRUE(test::wait_attached(instance_, "process", sut.pid(), 30s)) << sut.err();
  auto reader = attach_output_reader();

  producer.signal(SIGCONT);
  const OutputCheck check = read_output(reader, 4, 5);

  ASSERT_EQ(test::finish(sut, 20s), 0) << sut.out() << sut.err();
  EXPECT_EQ(check.frames, 5U);
  EXPECT_EQ(check.bad_content, 0U);
  EXPECT_NE(sut.err().find("FFT layout " + layout + " (--fft-layout " + layout + ")"), std::string::npos) << sut.err();
  (void)test::finish(producer, 20s);
}

TEST_F(ProcessStage, InPlaceFftLayoutPublishesIdentityFramesUnchanged) {
  test::Watchdog watchdog(60s);
  expect_identity_frames_unchanged_in("in-place");
}

TEST_F(ProcessStage, OutOfPlaceFftLayoutPublishesIdentityFramesUnchanged) {
  test::Watchdog watchdog(60s);
  expect_identity_frames_unchanged_in("out-of-place");
}

}  // namespace
}  // namespace framering::process
