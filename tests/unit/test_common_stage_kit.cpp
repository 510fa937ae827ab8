// The stage kit in one process: conversions, the rate report, the waits for an input ring and
// for consumers, and claims, on real segments. What depends on the stop flag runs in a death
// test's child process, so that the flag (process-wide, never reset) stays out of the others.
#include "framering/common/stage_kit.hpp"

#include <csignal>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "framering/common/error.hpp"
#include "framering/common/ring_status.hpp"
#include "framering/common/stop_signal.hpp"
#include "small_ring.hpp"
#include "test_support.hpp"

namespace framering::stage {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t kStartNs = 1'000'000'000'000ULL;  // an arbitrary CLOCK_MONOTONIC origin

class StageKitTest : public ::testing::Test {
 protected:
  void SetUp() override { instance_ = test::unique_instance(); }
  void TearDown() override { test::remove_instance(instance_); }

  static void publish_one(ring::RingWriter& writer) {
    auto slot = writer.claim(1s);
    ASSERT_TRUE(slot.has_value());
    writer.publish({.timestamp_ns = 0, .camera_frame_id = slot->sequence});
  }

  /// A 2-slot ring that the every consumer "rec" holds full: the next claim must wait for it.
  struct FullRing {
    ring::RingWriter writer;
    ring::RingReader reader;
  };
  [[nodiscard]] FullRing full_ring() const {
    FullRing full{ring::RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry(2)),
                  ring::RingReader::attach(instance_, "raw", {.name = "rec", .kind = ring::ConsumerKind::Every})};
    publish_one(full.writer);
    publish_one(full.writer);
    return full;
  }

  std::string instance_;
};

// Runs `body` in a death test's child after a SIGTERM reached the stop handlers; the child exits
// 0 when `body` returns true. Its waits end at the stop, and CTest's TIMEOUT bounds them (no
// watchdog thread: the child is forked).
#define EXPECT_AFTER_SIGTERM(body, stderr_regex)                       \
  EXPECT_EXIT(                                                         \
      {                                                                \
        install_stop_handlers();                                       \
        std::raise(SIGTERM);                                           \
        std::exit((body) ? 0 : 1);                                     \
      },                                                               \
      ::testing::ExitedWithCode(0), stderr_regex)

TEST(StageKit, FromSecondsRoundsToTheNearestNanosecond) {
  EXPECT_EQ(from_seconds(1.5), 1'500'000'000ns);
  EXPECT_EQ(from_seconds(0.1), 100'000'000ns);
  EXPECT_EQ(from_seconds(1e-9 * 0.6), 1ns);
}

TEST(StageKit, FromSecondsIsZeroForZeroAndNegativeSeconds) {
  EXPECT_EQ(from_seconds(0.0), 0ns);
  EXPECT_EQ(from_seconds(-2.0), 0ns);
}

TEST(StageKit, ToNsIsFromSecondsInIntegerNanoseconds) {
  EXPECT_EQ(to_ns(0.025), 25'000'000U);
  EXPECT_EQ(to_ns(-1.0), 0U);
}

TEST(StageKit, KeepRunningGoesOnUntilTheLimitAndForeverWithoutOne) {
  EXPECT_TRUE(keep_running(0, 1));
  EXPECT_FALSE(keep_running(1, 1));
  EXPECT_FALSE(keep_running(2, 1));
  EXPECT_TRUE(keep_running(UINT64_MAX, 0));
}

TEST(StageKit, KeepRunningStopsOnceAStopIsRequested) {
  EXPECT_AFTER_SIGTERM(!keep_running(0, 0), "");
}

TEST(StageKit, EndReasonIsTheGivenTextWithoutAStopAndTheSignalAfterOne) {
  EXPECT_EQ(end_reason("frames done"), "frames done");
  EXPECT_AFTER_SIGTERM(end_reason("frames done") == "SIGTERM", "");
}

TEST(StageKit, DescribeGivesTheCountersAndTheLossesOnlyWhenThereAreSome) {
  EXPECT_EQ(describe({.frames_read = 3, .frames_skipped = 2, .frames_torn = 1}), "read 3, skipped 2, torn 1");
  EXPECT_EQ(describe({.frames_read = 3, .gaps = 1, .frames_lost = 5}), "read 3, skipped 0, torn 0, lost 5 in 1 gaps");
}

TEST(StageKit, ThroughputIsZeroOverAnEmptySpan) {
  const Throughput sut{.frames = 10, .bytes = 100, .seconds = 0};
  EXPECT_EQ(sut.frames_per_s(), 0.0);
  EXPECT_EQ(sut.bytes_per_s(), 0.0);
}

TEST(RateReport, NoIntervalEndsBeforeItsLengthHasPassed) {
  RateReport sut("sent", 5s, kStartNs);
  sut.count();
  EXPECT_FALSE(sut.take_interval(kStartNs).has_value());
  EXPECT_FALSE(sut.take_interval(kStartNs + 4'999'999'999).has_value());
}

TEST(RateReport, AnEndedIntervalHoldsWhatWasCountedInItAndTheNextStartsEmpty) {
  RateReport sut("recorded", 5s, kStartNs);
  sut.count(3, 300);
  const auto first = sut.take_interval(kStartNs + 5'000'000'000);
  sut.count(1, 100);
  const auto second = sut.take_interval(kStartNs + 15'000'000'000);

  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->frames, 3U);
  EXPECT_EQ(first->bytes, 300U);
  EXPECT_DOUBLE_EQ(first->seconds, 5.0);
  EXPECT_DOUBLE_EQ(first->frames_per_s(), 0.6);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->frames, 1U);
  EXPECT_EQ(second->bytes, 100U);
  EXPECT_DOUBLE_EQ(second->seconds, 10.0);
}

TEST(RateReport, AZeroIntervalNeverEnds) {
  RateReport sut("processed", 0s, kStartNs);
  sut.count();
  EXPECT_FALSE(sut.take_interval(kStartNs + 1'000'000'000'000).has_value());
}

TEST(RateReport, TotalCountsEverythingSinceTheStartAcrossIntervals) {
  RateReport sut("published", 1s, kStartNs);
  sut.count(2, 20);
  (void)sut.take_interval(kStartNs + 1'000'000'000);
  sut.count(3, 30);

  const Throughput total = sut.total(kStartNs + 2'000'000'000);

  EXPECT_EQ(sut.frames(), 5U);
  EXPECT_EQ(total.frames, 5U);
  EXPECT_EQ(total.bytes, 50U);
  EXPECT_DOUBLE_EQ(total.seconds, 2.0);
  EXPECT_DOUBLE_EQ(total.frames_per_s(), 2.5);
  EXPECT_DOUBLE_EQ(total.bytes_per_s(), 25.0);
}

TEST(RateReport, LineGivesTheVerbFramesSecondsRatesAndTheStagesDetails) {
  const RateReport sut("recorded", 5s, kStartNs);
  EXPECT_EQ(sut.line({.frames = 200, .bytes = 6'000'000, .seconds = 5.0}, "12 lost"),
            "recorded 200 frames in 5.0 s (40.0 frames/s, 1.2 MB/s); 12 lost");
}

TEST(RateReport, LineLeavesOutBytesAndDetailsWhenThereAreNone) {
  const RateReport sut("shown", 5s, kStartNs);
  EXPECT_EQ(sut.line({.frames = 25, .bytes = 0, .seconds = 5.0}, ""), "shown 25 frames in 5.0 s (5.0 frames/s)");
}

TEST(RateReport, DetailsAreAskedForOnlyWhenAnIntervalEnded) {
  RateReport sut("sent", 5s, kStartNs);
  int asked = 0;
  const auto details = [&] {
    ++asked;
    return std::string{"details"};
  };

  sut.log_if_due(details, kStartNs + 1'000'000'000);
  sut.log_if_due(details, kStartNs + 5'000'000'000);
  sut.log_if_due(details, kStartNs + 6'000'000'000);

  EXPECT_EQ(asked, 1);
}

TEST(StageKit, BeginRefusesABadRingNameNamingIt) {
  const CommonOptions common{.instance = "lab1", .log_level = "off"};
  try {
    begin("test", common, {"raw", "no/slash"});
    FAIL() << "a bad ring name must be refused";
  } catch (const SegmentError& e) {
    EXPECT_NE(std::string(e.what()).find("ring name 'no/slash' is not valid"), std::string::npos) << e.what();
  }
}

TEST(StageKit, BeginRefusesABadInstanceNameNamingIt) {
  const CommonOptions common{.instance = "lab 1", .log_level = "off"};
  EXPECT_THROW(begin("test", common, {"raw"}), SegmentError);
}

TEST_F(StageKitTest, OpenInputOpensARingThatExists) {
  auto writer = ring::RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry());

  const auto sut = open_input(instance_, "raw", {.timeout = 0s, .option = "--wait-for-input-s"});

  ASSERT_TRUE(sut.has_value());
  EXPECT_EQ(sut->ring_name(), "raw");
}

TEST_F(StageKitTest, AMissingInputRingIsAnErrorNamingItTheWaitAndTheOption) {
  try {
    (void)attach_input(instance_, "nosuch", {.name = "view"},
                       {.timeout = 0s, .option = "--wait-for-input-s", .role = "input ring"});
    FAIL() << "the ring does not exist";
  } catch (const SegmentError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("input ring 'nosuch' of instance '" + instance_ + "' does not exist"), std::string::npos)
        << message;
    EXPECT_NE(message.find("within 0 s (--wait-for-input-s)"), std::string::npos) << message;
    EXPECT_NE(message.find("start its producer first"), std::string::npos) << message;
  }
}

// open_when_created's should_stop is a plain function: these reach the test through globals.
std::string g_instance;
bool g_created = false;

bool create_raw_then_go_on() {
  if (!g_created) {
    (void)ring::Segment::create(g_instance, "raw", test::small_ring_geometry(), ring::Access::Private);
    g_created = true;
  }
  return false;
}

bool stop_now() { return true; }

TEST_F(StageKitTest, AttachInputAttachesToARingCreatedWhileItWaits) {
  test::Watchdog watchdog(30s);
  g_instance = instance_;
  g_created = false;

  auto sut = ring::attach_when_created(instance_, "raw", {.name = "view"},
                                       {.timeout = 20s, .option = "--wait-for-ring-s", .should_stop = &create_raw_then_go_on});

  ASSERT_TRUE(g_created);
  ASSERT_TRUE(sut.has_value());
  EXPECT_EQ(sut->name(), "view");
}

TEST_F(StageKitTest, WaitingForAnInputRingEndsWithNothingWhenAStopComes) {
  test::Watchdog watchdog(30s);
  const auto sut = ring::open_when_created(instance_, "raw", {.timeout = 20s, .should_stop = &stop_now});
  EXPECT_FALSE(sut.has_value());
}

TEST_F(StageKitTest, AttachInputSaysItStoppedWhileWaiting) {
  const CommonOptions common{.instance = instance_, .log_level = "info"};
  EXPECT_AFTER_SIGTERM((begin("test", common, {"raw"}),
                        !attach_input(instance_, "raw", {.name = "view"}, {.timeout = 10s, .option = "--wait"})),
                       "stopped \\(SIGTERM\\) while waiting for ring 'raw'");
}

TEST_F(StageKitTest, WaitForConsumersGoesOnAtOnceWhenNoneAreExpected) {
  auto writer = ring::RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry());
  EXPECT_TRUE(wait_for_consumers(writer, 0, 0s));
}

TEST_F(StageKitTest, WaitForConsumersGoesOnWhenTheyAreAttached) {
  auto writer = ring::RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry());
  auto reader = ring::RingReader::attach(instance_, "raw", {.name = "view"});
  EXPECT_TRUE(wait_for_consumers(writer, 1, 0s));
}

TEST_F(StageKitTest, WaitForConsumersGoesOnAnywayWhenTheyDoNotCome) {
  auto writer = ring::RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry());
  auto reader = ring::RingReader::attach(instance_, "raw", {.name = "view"});
  EXPECT_TRUE(wait_for_consumers(writer, 2, 0s));
}

TEST_F(StageKitTest, WaitForConsumersSaysStopWhenAStopCameWhileWaiting) {
  auto writer = ring::RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry());
  EXPECT_AFTER_SIGTERM(!wait_for_consumers(writer, 1, 10s), "");
}

TEST_F(StageKitTest, ClaimGivesTheNextSlotWhenTheRingHasRoom) {
  auto writer = ring::RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry());
  std::uint64_t waits = 0;

  const auto sut = claim(writer, 0s, &waits);

  ASSERT_TRUE(sut.has_value());
  EXPECT_EQ(sut->sequence, 0U);
  EXPECT_EQ(waits, 0U);
}

TEST_F(StageKitTest, ClaimTimesOutAndCountsTheWaitWhileAnEveryConsumerHoldsTheRing) {
  FullRing full = full_ring();
  std::uint64_t waits = 0;

  const auto sut = claim(full.writer, 0s, &waits);

  ASSERT_FALSE(sut.has_value());
  EXPECT_EQ(sut.error(), ClaimEnd::TimedOut);
  EXPECT_EQ(waits, 1U);
}

TEST_F(StageKitTest, ClaimSaysStoppedWhenAStopComesWhileTheRingIsFull) {
  FullRing full = full_ring();
  EXPECT_AFTER_SIGTERM([&] {
    const auto slot = claim(full.writer, kNoTimeout);
    return !slot && slot.error() == ClaimEnd::Stopped;
  }(), "");
}

TEST(StageKit, WaitUntilSaysSoWhenTheDueTimeHasCome) {
  EXPECT_TRUE(wait_until(0));
  EXPECT_TRUE(wait_until(monotonic_ns()));
}

TEST(StageKit, WaitUntilReturnsToTheCallerLongBeforeAFarDueTime) {
  test::Watchdog watchdog(30s);
  EXPECT_FALSE(wait_until(monotonic_ns() + 3'600'000'000'000ULL));  // an hour: it must come back to look at the stop flag
}

}  // namespace
}  // namespace framering::stage
