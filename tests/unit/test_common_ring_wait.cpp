// Every wait strategy on a real segment, the producer in one thread and the consumer in another:
// an every consumer reads every frame in order and intact, a newest consumer is woken for a frame
// published while it waits, and a consumer whose producer stops times out. The producer's pace
// (a rate, never a synchronisation) gives the deadline strategy a period to learn; nothing here
// depends on how fast a wake is. Label threads: TSan runs these.
#include <atomic>
#include <string>
#include <chrono>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "framering/common/clock.hpp"
#include "framering/common/ring_reader.hpp"
#include "framering/common/ring_writer.hpp"
#include "framering/common/sequence_pattern.hpp"
#include "small_ring.hpp"
#include "test_support.hpp"

namespace framering::ring {
namespace {

using namespace std::chrono_literals;

class RingWaitTest : public ::testing::TestWithParam<WaitStrategy> {
 protected:
  void SetUp() override { instance_ = test::unique_instance(); }
  void TearDown() override { test::remove_instance(instance_); }

  static void publish_one(RingWriter& writer) {
    auto slot = writer.claim(5s);
    ASSERT_TRUE(slot.has_value());
    const auto& h = writer.segment().header();
    fill_sequence_pattern(slot->pixels, {h.width, h.height, PixelFormat::Mono16, h.stride_bytes}, slot->sequence);
    writer.publish({.timestamp_ns = 0, .camera_frame_id = slot->sequence});
  }

  // Publishes `count` frames, one every `period` at most (a producer's frame rate).
  static void publish_paced(RingWriter& writer, std::uint64_t count, std::chrono::microseconds period) {
    auto due = std::chrono::steady_clock::now();
    for (std::uint64_t i = 0; i < count; ++i) {
      due += period;
      std::this_thread::sleep_until(due);  // pacing, not synchronisation
      publish_one(writer);
    }
  }

  static bool content_ok(const FrameView& f) {
    return !check_sequence_pattern(f.pixels, {f.width, f.height, f.pixel_format, f.stride_bytes}, f.sequence)
                .has_value();
  }

  ReaderOptions options(ConsumerKind kind, const char* name) const {
    ReaderOptions o;
    o.name = name;
    o.kind = kind;
    o.wait = GetParam();
    return o;
  }

  std::string instance_;
};

TEST_P(RingWaitTest, EveryConsumerReadsEveryFrameInOrderAndIntact) {
  test::Watchdog watchdog(60s);
  constexpr std::uint64_t kFrames = 300;
  auto writer = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry());
  auto sut = RingReader::attach(instance_, "raw", options(ConsumerKind::Every, "every"));
  ASSERT_EQ(sut.wait_strategy(), GetParam());

  std::thread producer([&] { publish_paced(writer, kFrames, 200us); });
  std::uint64_t expected = 0;
  std::uint64_t bad = 0;
  while (expected < kFrames) {
    auto frame = sut.read(10s);
    ASSERT_TRUE(frame.has_value()) << "timed out waiting for frame " << expected;
    EXPECT_FALSE(frame->gap.has_value());
    EXPECT_EQ(frame->sequence, expected);
    if (!content_ok(*frame)) ++bad;
    EXPECT_TRUE(sut.release(*frame));
    expected = frame->sequence + 1;
  }
  producer.join();
  EXPECT_EQ(bad, 0U);
  EXPECT_EQ(sut.counters().frames_read, kFrames);
  EXPECT_EQ(sut.counters().frames_lost, 0U);
}

TEST_P(RingWaitTest, NewestConsumerIsWokenForEachFramePublishedWhileItWaits) {
  test::Watchdog watchdog(60s);
  constexpr std::uint64_t kRounds = 50;
  auto writer = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry());
  auto sut = RingReader::attach(instance_, "raw", options(ConsumerKind::Newest, "newest"));
  // A history at a steady pace, so that the deadline strategy has a period to plan with.
  publish_paced(writer, 8, 300us);

  std::atomic<std::uint64_t> asked{0};  // release by the consumer: it is about to read frame `asked - 1`
  std::atomic<bool> failed{false};
  std::thread consumer([&] {
    for (std::uint64_t round = 0; round < kRounds; ++round) {
      sut.skip_to_now();
      const std::uint64_t want = sut.published();
      asked.store(round + 1, std::memory_order_release);
      auto frame = sut.read(10s);
      if (!frame || frame->sequence != want || !content_ok(*frame) || !sut.release(*frame)) {
        failed.store(true, std::memory_order_release);
        asked.store(kRounds + 1, std::memory_order_release);
        return;
      }
    }
  });
  for (std::uint64_t round = 1; round <= kRounds; ++round) {
    // The consumer has skipped to now: publish the frame it waits for (it may or may not be
    // asleep yet; either way read() must return exactly that frame).
    ASSERT_TRUE(test::wait_until([&] { return asked.load(std::memory_order_acquire) >= round; }, 20s));
    if (asked.load(std::memory_order_acquire) > kRounds) break;
    publish_one(writer);
  }
  consumer.join();
  EXPECT_FALSE(failed.load());
  EXPECT_EQ(sut.counters().frames_torn, 0U);
}

TEST_P(RingWaitTest, ConsumerTimesOutWhenTheProducerStops) {
  test::Watchdog watchdog(30s);
  auto writer = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry());
  auto sut = RingReader::attach(instance_, "raw", options(ConsumerKind::Every, "every"));
  std::thread producer([&] { publish_paced(writer, 6, 300us); });
  for (std::uint64_t s = 0; s < 6; ++s) {
    auto frame = sut.read(10s);
    ASSERT_TRUE(frame.has_value());
    ASSERT_TRUE(sut.release(*frame));
  }
  producer.join();
  // The next frame is due and never comes: the deadline strategy finds it overdue and sleeps.
  const auto result = sut.read(30ms);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error(), ReadError::Timeout);
  EXPECT_EQ(sut.cursor(), 6U);
}

TEST_P(RingWaitTest, OnlySpinPollsWhenNoFrameIsDue) {
  test::Watchdog watchdog(30s);
  auto writer = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry());
  auto sut = RingReader::attach(instance_, "raw", options(ConsumerKind::Newest, "newest"));
  const auto result = sut.read(200ms);  // nothing is ever published
  ASSERT_FALSE(result.has_value());
  const WaitStats& stats = sut.wait_stats();
  if (GetParam() == WaitStrategy::Spin) {
    EXPECT_GE(stats.polls, 1U);
    EXPECT_EQ(stats.polls_caught, 0U);
  } else {
    // futex never polls; deadline has no period to plan with, so it never polls either.
    EXPECT_EQ(stats.polls, 0U);
  }
}

INSTANTIATE_TEST_SUITE_P(EachStrategy, RingWaitTest,
                         ::testing::Values(WaitStrategy::Futex, WaitStrategy::Spin, WaitStrategy::Deadline),
                         [](const ::testing::TestParamInfo<WaitStrategy>& param) {
                           return std::string{to_string(param.param)};
                         });

}  // namespace
}  // namespace framering::ring
