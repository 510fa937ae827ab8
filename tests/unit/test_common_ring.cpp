// The ring in one process, on real segments: layout, alignment, ordering, newest/every
// semantics, tearing, gating and eviction, and every way opening a segment can fail.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include <fftw3.h>
#include <fmt/format.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "framering/common/error.hpp"
#include "framering/common/ring_reader.hpp"
#include "framering/common/ring_status.hpp"
#include "framering/common/ring_writer.hpp"
#include "framering/common/sequence_pattern.hpp"
#include "small_ring.hpp"
#include "test_support.hpp"

namespace framering::ring {
namespace {

using namespace std::chrono_literals;

class RingTest : public ::testing::Test {
 protected:
  void SetUp() override { instance_ = test::unique_instance(); }
  void TearDown() override { test::remove_instance(instance_); }

  // Claims, fills with the sequence pattern, publishes; returns the sequence.
  static std::uint64_t publish_one(RingWriter& writer) {
    auto slot = writer.claim(1s);
    EXPECT_TRUE(slot.has_value());
    if (!slot) return UINT64_MAX;
    const auto& h = writer.segment().header();
    fill_sequence_pattern(slot->pixels, {h.width, h.height, PixelFormat::Mono16, h.stride_bytes}, slot->sequence);
    writer.publish({.timestamp_ns = 0, .camera_frame_id = slot->sequence + 7});
    return slot->sequence;
  }

  static bool content_ok(const FrameView& f) {
    return !check_sequence_pattern(f.pixels, {f.width, f.height, f.pixel_format, f.stride_bytes}, f.sequence)
                .has_value();
  }

  std::string instance_;
};

TEST_F(RingTest, CreatedSegmentDescribesItself) {
  auto sut = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry(5));
  const SegmentHeader& h = sut.segment().header();
  EXPECT_EQ(h.magic, kMagic);
  EXPECT_EQ(std::memcmp(&h.magic, "FRAMERNG", 8), 0);
  EXPECT_EQ(h.layout_version, kLayoutVersion);
  EXPECT_EQ(h.width, 32U);
  EXPECT_EQ(h.height, 8U);
  EXPECT_EQ(h.pixel_format, static_cast<std::uint32_t>(PixelFormat::Mono16));
  EXPECT_STREQ(h.pixel_format_name, "Mono16");
  EXPECT_EQ(h.stride_bytes, 64U);
  EXPECT_EQ(h.slot_count, 5U);
  EXPECT_EQ(h.slot_alignment_bytes, 4096U);
  EXPECT_STREQ(h.ring_name, "raw");
  EXPECT_FALSE(sut.reattached());
  EXPECT_EQ(sut.next_sequence(), 0U);
}

TEST_F(RingTest, EverySlotIsPageAlignedForFftwAndODirect) {
  RingGeometry g;  // 1920x1080 Mono16: the frame is not a page multiple
  g.slot_count = 7;
  auto sut = RingWriter::create_or_attach(instance_, "raw", g);
  for (std::uint32_t slot = 0; slot < 7; ++slot) {
    auto* pixels = sut.segment().slot_pixels(slot);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(pixels) % 4096, 0U) << "slot " << slot;
    EXPECT_EQ(fftwf_alignment_of(reinterpret_cast<float*>(pixels)), 0) << "slot " << slot;
  }
  EXPECT_EQ(sut.segment().header().slot_stride_bytes % 4096, 0U);
}

TEST_F(RingTest, SegmentIsPrivateByDefaultAndGroupReadableOnRequest) {
  { auto sut = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry()); }
  struct stat st{};
  ASSERT_EQ(::stat(("/dev/shm/framering." + instance_ + ".raw").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);

  WriterOptions group;
  group.access = Access::Group;
  { auto sut = RingWriter::create_or_attach(instance_, "grp", test::small_ring_geometry(), group); }
  ASSERT_EQ(::stat(("/dev/shm/framering." + instance_ + ".grp").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660U);
}

TEST_F(RingTest, EveryConsumerGetsEverySequenceInOrderAcrossWraps) {
  auto writer = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry(4));
  auto sut = RingReader::attach(instance_, "raw", {.name = "rec", .kind = ConsumerKind::Every});
  for (std::uint64_t expected = 0; expected < 50; ++expected) {
    ASSERT_EQ(publish_one(writer), expected);
    auto frame = sut.read(1s);
    ASSERT_TRUE(frame.has_value());
    EXPECT_EQ(frame->sequence, expected);
    EXPECT_EQ(frame->slot, expected % 4);
    EXPECT_EQ(frame->camera_frame_id, expected + 7);
    EXPECT_FALSE(frame->gap.has_value());
    EXPECT_TRUE(content_ok(*frame));
    EXPECT_TRUE(sut.release(*frame));
  }
  EXPECT_EQ(sut.counters().frames_read, 50U);
  EXPECT_EQ(sut.counters().frames_lost, 0U);
}

TEST_F(RingTest, EveryConsumerReadsABacklogInOrder) {
  auto writer = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry(4));
  auto sut = RingReader::attach(instance_, "raw", {.name = "rec", .kind = ConsumerKind::Every});
  for (int i = 0; i < 4; ++i) publish_one(writer);
  for (std::uint64_t expected = 0; expected < 4; ++expected) {
    auto frame = sut.read(0s);
    ASSERT_TRUE(frame.has_value());
    EXPECT_EQ(frame->sequence, expected);
    EXPECT_TRUE(sut.release(*frame));
  }
  EXPECT_FALSE(sut.read(0s).has_value());
}

TEST_F(RingTest, ReadWithoutReleaseReturnsTheSameFrame) {
  auto writer = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry(4));
  auto sut = RingReader::attach(instance_, "raw", {.name = "rec", .kind = ConsumerKind::Every});
  publish_one(writer);
  publish_one(writer);
  auto first = sut.read(0s);
  auto again = sut.read(0s);
  ASSERT_TRUE(first && again);
  EXPECT_EQ(first->sequence, again->sequence);
}

TEST_F(RingTest, ProducerCannotClaimASlotAnEveryConsumerHolds) {
  auto sut = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry(4));
  auto reader = RingReader::attach(instance_, "raw", {.name = "rec", .kind = ConsumerKind::Every, .stall_timeout = 0s});
  for (int i = 0; i < 4; ++i) publish_one(sut);
  EXPECT_FALSE(sut.try_claim().has_value()) << "the ring is full of unreleased frames";
  auto frame = reader.read(0s);
  ASSERT_TRUE(frame.has_value());
  EXPECT_TRUE(reader.release(*frame));
  auto slot = sut.try_claim();
  ASSERT_TRUE(slot.has_value());
  EXPECT_EQ(slot->sequence, 4U);
  EXPECT_EQ(slot->slot, 0U);
}

TEST_F(RingTest, NewestConsumerNeverGatesTheProducer) {
  auto sut = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry(4));
  auto reader = RingReader::attach(instance_, "raw", {.name = "view", .kind = ConsumerKind::Newest});
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(sut.try_claim().has_value()) << i, sut.publish();
}

TEST_F(RingTest, NewestConsumerGetsTheNewestFrameAndCountsTheSkipped) {
  auto writer = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry(4));
  auto sut = RingReader::attach(instance_, "raw", {.name = "view", .kind = ConsumerKind::Newest});
  for (int i = 0; i < 6; ++i) publish_one(writer);
  auto frame = sut.read(0s);
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(frame->sequence, 5U);
  EXPECT_TRUE(content_ok(*frame));
  EXPECT_TRUE(sut.release(*frame));
  EXPECT_EQ(sut.counters().frames_skipped, 5U);
  EXPECT_FALSE(sut.read(0s).has_value()) << "no newer frame: nothing, not the same one again";
  publish_one(writer);
  frame = sut.read(0s);
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(frame->sequence, 6U);
  EXPECT_TRUE(sut.release(*frame));
}

TEST_F(RingTest, NewestConsumerAttachingLateGetsTheNewestExistingFrame) {
  auto writer = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry(4));
  for (int i = 0; i < 3; ++i) publish_one(writer);
  auto sut = RingReader::attach(instance_, "raw", {.name = "view", .kind = ConsumerKind::Newest});
  auto frame = sut.read(0s);
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(frame->sequence, 2U);
}

TEST_F(RingTest, SkipToNowWaitsForAFramePublishedAfterIt) {
  auto writer = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry(4));
  auto sut = RingReader::attach(instance_, "raw", {.name = "view", .kind = ConsumerKind::Newest});
  publish_one(writer);
  sut.skip_to_now();
  EXPECT_FALSE(sut.read(0s).has_value());
  publish_one(writer);
  auto frame = sut.read(0s);
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(frame->sequence, 1U);
}

TEST_F(RingTest, NewestReadLappedByTheProducerIsReportedTornAndCounted) {
  auto writer = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry(4));
  auto sut = RingReader::attach(instance_, "raw", {.name = "view", .kind = ConsumerKind::Newest});
  publish_one(writer);
  auto frame = sut.read(0s);
  ASSERT_TRUE(frame.has_value());
  for (int i = 0; i < 4; ++i) publish_one(writer);  // wraps onto the slot being read
  EXPECT_FALSE(sut.is_intact(*frame));
  EXPECT_FALSE(sut.release(*frame));
  EXPECT_EQ(sut.counters().frames_torn, 1U);
  EXPECT_EQ(sut.counters().frames_read, 0U);
}

TEST_F(RingTest, ReadTimesOutWhenNothingIsPublished) {
  auto writer = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry(4));
  auto sut = RingReader::attach(instance_, "raw", {.name = "view", .kind = ConsumerKind::Newest});
  auto frame = sut.read(5ms);
  ASSERT_FALSE(frame.has_value());
  EXPECT_EQ(frame.error(), ReadError::Timeout);
}

// Claims ahead (RingWriter::claim_at): what lending slots to a camera driver relies on.

TEST_F(RingTest, SlotsClaimedAheadArePublishedInSequenceOrderAndReadIntactAcrossWraps) {
  auto sut = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry(4));
  auto every = RingReader::attach(instance_, "raw", {.name = "rec", .kind = ConsumerKind::Every});
  const auto& h = sut.segment().header();
  const FrameShape shape{h.width, h.height, PixelFormat::Mono16, h.stride_bytes};
  // Keep the whole window (3 of 4 slots) claimed, as a driver holding three buffers would.
  std::uint64_t claimed_up_to = 0;  // next sequence to claim
  for (std::uint64_t expected = 0; expected < 50; ++expected) {
    while (claimed_up_to < sut.next_sequence() + sut.claim_window()) {
      auto slot = sut.try_claim_at(claimed_up_to);
      ASSERT_TRUE(slot.has_value()) << claimed_up_to;
      EXPECT_EQ(slot->sequence, claimed_up_to);
      EXPECT_EQ(slot->slot, claimed_up_to % 4);
      fill_sequence_pattern(slot->pixels, shape, claimed_up_to);
      ++claimed_up_to;
    }
    EXPECT_EQ(sut.claimed_count(), 3U);
    EXPECT_TRUE(sut.is_claimed(expected));
    sut.publish({.camera_frame_id = expected + 7});
    EXPECT_FALSE(sut.is_claimed(expected));
    auto frame = every.read(0s);
    ASSERT_TRUE(frame.has_value());
    EXPECT_EQ(frame->sequence, expected);
    EXPECT_EQ(frame->camera_frame_id, expected + 7);
    EXPECT_FALSE(frame->gap.has_value());
    EXPECT_TRUE(content_ok(*frame));
    EXPECT_TRUE(every.release(*frame));
  }
  EXPECT_EQ(every.counters().frames_lost, 0U);
  EXPECT_EQ(every.counters().frames_torn, 0U);
}

TEST_F(RingTest, ClaimingAheadIsGatedPerSlotByAnEveryConsumersCursor) {
  auto sut = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry(4));
  auto every = RingReader::attach(instance_, "raw", {.name = "rec", .kind = ConsumerKind::Every, .stall_timeout = 0s});
  for (int i = 0; i < 3; ++i) publish_one(sut);  // 0..2 published, the consumer holds them all (cursor 0)
  EXPECT_TRUE(sut.try_claim_at(3).has_value()) << "slot 3 was never written";
  EXPECT_FALSE(sut.try_claim_at(4).has_value()) << "slot 0 still holds frame 0, unreleased";
  EXPECT_FALSE(sut.is_claimed(4));
  EXPECT_EQ(sut.claimed_count(), 1U);
  auto frame = every.read(0s);
  ASSERT_TRUE(frame.has_value());
  ASSERT_TRUE(every.release(*frame));  // cursor 1: slot 0 is free, slot 1 (frame 1) is not
  EXPECT_TRUE(sut.try_claim_at(4).has_value());
  EXPECT_FALSE(sut.try_claim_at(5).has_value());
  EXPECT_EQ(sut.claimed_count(), 2U);
}

TEST_F(RingTest, AClaimAheadWaitsForTheConsumerAndEvictsItWhenItStalls) {
  auto sut = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry(4));
  auto every = RingReader::attach(instance_, "raw", {.name = "rec", .kind = ConsumerKind::Every, .stall_timeout = 20ms});
  for (int i = 0; i < 3; ++i) publish_one(sut);
  ASSERT_TRUE(sut.try_claim_at(3).has_value());
  const auto slot = sut.claim_at(5, 10s);  // holds 1 and 2 of the stalled consumer: evicted after 20 ms
  ASSERT_TRUE(slot.has_value());
  EXPECT_EQ(slot->slot, 1U);
  (void)every.read(0s);  // the consumer learns of its eviction at its next read
  EXPECT_EQ(every.counters().evictions, 1U);
}

TEST_F(RingTest, SlotsClaimedAheadAreNeverReadAndTheNewestFrameStaysWhole) {
  auto sut = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry(4));
  auto newest = RingReader::attach(instance_, "raw", {.name = "view", .kind = ConsumerKind::Newest});
  for (int i = 0; i < 4; ++i) publish_one(sut);
  for (std::uint64_t s = 4; s < 4 + sut.claim_window(); ++s) ASSERT_TRUE(sut.try_claim_at(s).has_value());
  const auto frame = newest.read(0s);
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(frame->sequence, 3U) << "claims ahead are not published";
  EXPECT_TRUE(content_ok(*frame));
  EXPECT_TRUE(newest.release(*frame)) << "slot 3, the newest frame's, is outside the claim window";
  EXPECT_FALSE(newest.read(0s).has_value());
}

TEST_F(RingTest, ClaimingOutsideTheWindowOrPublishingWithoutTheClaimIsAProducerBug) {
  // The "fast" style: each death is a fork of this process at the statement, so the segment is
  // this test's own and its TearDown removes it ("threadsafe" re-ran the test in a new process,
  // which made a segment of its own and died with it: three left in /dev/shm per run).
  GTEST_FLAG_SET(death_test_style, "fast");
  auto sut = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry(4));
  // (spdlog's default logger writes the reason to stdout here: the signal is what is checked.)
  EXPECT_EXIT((void)sut.try_claim_at(3), ::testing::KilledBySignal(SIGABRT), "") << "window 0..2";
  ASSERT_TRUE(sut.try_claim_at(1).has_value());
  EXPECT_EXIT(sut.publish(), ::testing::KilledBySignal(SIGABRT), "") << "sequence 0 is not claimed";
  EXPECT_EXIT(sut.skip_to(5), ::testing::KilledBySignal(SIGABRT), "") << "a claim is outstanding";
}

TEST_F(RingTest, AProducerThatEndsWithClaimsAheadLeavesThemUnreadAndItsSuccessorClaimsThemAgain) {
  auto every = std::optional<RingReader>();
  {
    auto first = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry(4));
    every.emplace(RingReader::attach(instance_, "raw", {.name = "rec", .kind = ConsumerKind::Every}));
    ASSERT_TRUE(first.try_claim_at(1).has_value());
    ASSERT_TRUE(first.try_claim_at(2).has_value());
    EXPECT_EQ(publish_one(first), 0U);
  }  // ends with 1 and 2 claimed, never published
  auto frame = every->read(0s);
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(frame->sequence, 0U);
  ASSERT_TRUE(every->release(*frame));
  EXPECT_FALSE(every->read(0s).has_value()) << "claimed slots are not published";
  auto second = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry(4));
  EXPECT_EQ(second.next_sequence(), 1U);
  EXPECT_EQ(second.claimed_count(), 0U);
  EXPECT_EQ(publish_one(second), 1U);
  frame = every->read(0s);
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(frame->sequence, 1U);
  EXPECT_FALSE(frame->gap.has_value());
  EXPECT_TRUE(content_ok(*frame));
  EXPECT_TRUE(every->release(*frame));
}

TEST_F(RingTest, StalledEveryConsumerIsEvictedAndLearnsTheExactGap) {
  auto writer = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry(4));
  auto sut = RingReader::attach(instance_, "raw",
                                {.name = "rec", .kind = ConsumerKind::Every, .stall_timeout = 20ms});
  for (int i = 0; i < 4; ++i) publish_one(writer);
  auto frame = sut.read(0s);  // reads frame 0 and stalls holding it
  ASSERT_TRUE(frame.has_value());
  // The producer waits for the stalled consumer, evicts it after 20 ms, and goes on.
  for (int i = 0; i < 10; ++i) ASSERT_NE(publish_one(writer), UINT64_MAX);
  EXPECT_FALSE(sut.release(*frame)) << "frame 0 was overwritten while held";
  EXPECT_EQ(sut.counters().evictions, 1U);
  auto next = sut.read(0s);
  ASSERT_TRUE(next.has_value());
  // published = 14, 4 slots: the oldest frame that can be intact is 11; 0..10 are lost.
  ASSERT_TRUE(next->gap.has_value());
  EXPECT_EQ(*next->gap, (Gap{0, 10}));
  auto again = sut.read(0s);  // not released yet: the same frame, and the gap told again
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->gap, next->gap);
  EXPECT_EQ(next->sequence, 11U);
  EXPECT_TRUE(content_ok(*next));
  EXPECT_TRUE(sut.release(*next));
  EXPECT_EQ(sut.counters().frames_lost, 11U);
  EXPECT_EQ(sut.counters().gaps, 1U);
  // Rejoined at cursor 12: it gates the producer again (slots for 14 and 15 are free, 16 is not).
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(writer.try_claim().has_value());
    writer.publish();
  }
  EXPECT_FALSE(writer.try_claim().has_value());
}

TEST_F(RingTest, ReadAheadKeepsFramesInFlightUntilReleasedAndTheProducerWaitsForThem) {
  auto writer = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry(4));
  auto sut = RingReader::attach(instance_, "raw", {.name = "bridge", .kind = ConsumerKind::Every});
  for (int i = 0; i < 4; ++i) publish_one(writer);
  for (std::uint64_t s = 0; s < 4; ++s) {
    const auto frame = sut.read_ahead(s, 0s);
    ASSERT_TRUE(frame.has_value()) << s;
    EXPECT_EQ(frame->sequence, s);
    EXPECT_TRUE(content_ok(*frame));
    EXPECT_TRUE(sut.is_intact(*frame));
  }
  EXPECT_EQ(sut.cursor(), 0U) << "reading ahead moves nothing";
  EXPECT_FALSE(writer.claim(0s).has_value()) << "all four slots are in flight";
  EXPECT_FALSE(sut.read_ahead(4, 0s).has_value()) << "not published yet";
  sut.release_until(2);
  EXPECT_EQ(sut.cursor(), 2U);
  EXPECT_EQ(sut.counters().frames_read, 2U);
  EXPECT_EQ(publish_one(writer), 4U);
  EXPECT_EQ(publish_one(writer), 5U);
  EXPECT_FALSE(writer.claim(0s).has_value()) << "frames 2..5 still held";
  const auto frame = sut.read(0s);
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(frame->sequence, 2U) << "read() still starts at the cursor";
  EXPECT_FALSE(frame->gap.has_value());
  EXPECT_FALSE(sut.read_ahead(1, 0s).has_value()) << "behind the cursor";
}

TEST_F(RingTest, SkippedSequencesAreAGapForAnEveryConsumerAndPassedOverByANewestOne) {
  auto writer = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry(4));
  auto every = RingReader::attach(instance_, "raw", {.name = "rec", .kind = ConsumerKind::Every});
  auto newest = RingReader::attach(instance_, "raw", {.name = "view", .kind = ConsumerKind::Newest});
  EXPECT_EQ(publish_one(writer), 0U);
  writer.skip_to(7);  // 1..6 were lost upstream
  EXPECT_EQ(writer.next_sequence(), 7U);
  auto first = every.read(0s);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->sequence, 0U);
  ASSERT_TRUE(every.release(*first));
  EXPECT_FALSE(every.read(0s).has_value()) << "1..6 are gone, 7 is not published yet";
  EXPECT_EQ(every.cursor(), 7U) << "the consumer passed the skipped sequences, so the producer may go on";
  EXPECT_EQ(publish_one(writer), 7U);
  auto after = every.read(0s);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->sequence, 7U);
  ASSERT_TRUE(after->gap.has_value());
  EXPECT_EQ(*after->gap, (Gap{1, 6}));
  EXPECT_TRUE(content_ok(*after));
  ASSERT_TRUE(every.release(*after));
  const auto seen = newest.read(0s);
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->sequence, 7U);
}

TEST_F(RingTest, ANewestConsumerWaitsRatherThanSpinsOnASkippedNewestSequence) {
  auto writer = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry(4));
  auto newest = RingReader::attach(instance_, "raw", {.name = "view", .kind = ConsumerKind::Newest});
  writer.skip_to(3);
  EXPECT_FALSE(newest.read(20ms).has_value()) << "nothing was published: a timeout, not a frame";
  EXPECT_EQ(publish_one(writer), 3U);
  const auto frame = newest.read(0s);
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(frame->sequence, 3U);
}

TEST_F(RingTest, SequenceContinuesPastTwoToThe32) {
  {
    auto writer = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry(4));
    // Pretend the segment has lived long: 2^32 - 2 frames published already.
    at(writer.segment().control().cursor.published).store((1ULL << 32) - 2);
  }
  auto writer = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry(4));
  EXPECT_TRUE(writer.reattached());
  auto sut = RingReader::attach(instance_, "raw", {.name = "rec", .kind = ConsumerKind::Every});
  for (std::uint64_t expected = (1ULL << 32) - 2; expected < (1ULL << 32) + 6; ++expected) {
    ASSERT_EQ(publish_one(writer), expected);
    auto frame = sut.read(0s);
    ASSERT_TRUE(frame.has_value());
    EXPECT_EQ(frame->sequence, expected);
    EXPECT_EQ(frame->slot, expected % 4);
    EXPECT_TRUE(content_ok(*frame));
    EXPECT_TRUE(sut.release(*frame));
  }
}

TEST_F(RingTest, ConsumerThatDetachesNoLongerGates) {
  auto writer = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry(4));
  {
    auto reader = RingReader::attach(instance_, "raw", {.name = "rec", .kind = ConsumerKind::Every, .stall_timeout = 0s});
    for (int i = 0; i < 4; ++i) publish_one(writer);
    EXPECT_FALSE(writer.try_claim().has_value());
  }
  EXPECT_TRUE(writer.try_claim().has_value());
}

// "How old is what I see?": frames that waited at least 20 ms between publication and their
// read show at least that in the consumer's entry, as status and its JSON give it. (The sleep
// makes the frames old; it synchronises nothing.)
TEST_F(RingTest, StatusShowsEachConsumersPublishToReadLatency) {
  auto writer = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry(4));
  auto every = RingReader::attach(instance_, "raw", {.name = "rec", .kind = ConsumerKind::Every});
  auto newest = RingReader::attach(instance_, "raw", {.name = "view", .kind = ConsumerKind::Newest});
  for (int i = 0; i < 3; ++i) publish_one(writer);
  std::this_thread::sleep_for(20ms);
  for (int i = 0; i < 3; ++i) {
    auto frame = every.read(0s);
    ASSERT_TRUE(frame.has_value());
    EXPECT_TRUE(every.release(*frame));
  }
  EXPECT_FALSE(every.read(0s).has_value()) << "nothing more: the reader stores its figures when it finds no frame";
  const RingStatus sut = read_status(writer.segment());
  ASSERT_EQ(sut.consumers.size(), 2U);
  const ConsumerStatus& rec = sut.consumers[0];
  EXPECT_EQ(rec.latency_frames, 3U);
  EXPECT_GE(rec.latency_p50_us, 20'000.0);
  EXPECT_GE(rec.latency_p99_us, rec.latency_p50_us);
  EXPECT_GE(rec.latency_max_us, rec.latency_p99_us);
  EXPECT_EQ(sut.consumers[1].latency_frames, 0U) << "the newest consumer read nothing yet";
  const auto json = to_json(sut);
  EXPECT_EQ(json["consumers"][0]["latency_us"]["frames"], 3);
  EXPECT_GE(json["consumers"][0]["latency_us"]["p50"].get<double>(), 20'000.0);
  EXPECT_TRUE(json["consumers"][1]["latency_us"].is_null());
  EXPECT_NE(format_status(sut).find("latency ms p50/p99/max"), std::string::npos) << format_status(sut);
}

TEST_F(RingTest, StatusShowsProducerAndConsumers) {
  auto writer = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry(4));
  auto every = RingReader::attach(instance_, "raw", {.name = "rec", .kind = ConsumerKind::Every});
  auto newest = RingReader::attach(instance_, "raw", {.name = "view", .kind = ConsumerKind::Newest});
  for (int i = 0; i < 3; ++i) publish_one(writer);
  auto frame = every.read(0s);
  ASSERT_TRUE(frame.has_value());
  EXPECT_TRUE(every.release(*frame));
  const RingStatus sut = read_status(writer.segment());
  EXPECT_EQ(sut.published, 3U);
  EXPECT_EQ(sut.producer_pid, static_cast<std::uint32_t>(::getpid()));
  EXPECT_TRUE(sut.producer_alive);
  ASSERT_EQ(sut.consumers.size(), 2U);
  EXPECT_EQ(sut.consumers[0].name, "rec");
  EXPECT_EQ(sut.consumers[0].kind, ConsumerKind::Every);
  EXPECT_EQ(sut.consumers[0].cursor, 1U);
  EXPECT_EQ(sut.consumers[0].lag, 2U);
  EXPECT_EQ(sut.consumers[0].frames_read, 1U);
  EXPECT_EQ(sut.consumers[1].name, "view");
  EXPECT_EQ(sut.consumers[1].kind, ConsumerKind::Newest);
  EXPECT_NE(format_status(sut).find("rec"), std::string::npos);
  EXPECT_EQ(to_json(sut)["consumers"][0]["lag"], 2);
}

// ---- opening: every failure is a clear error naming both sides --------------------------------

std::string open_error(const std::string& instance, const std::string& ring, std::optional<RingGeometry> expected = {}) {
  try {
    (void)Segment::open(instance, ring, expected);
  } catch (const SegmentError& e) {
    return e.what();
  }
  return "";
}

TEST_F(RingTest, PublishedIsWhatTheProducerPublishedAsTheReaderAndTheSegmentSeeIt) {
  auto writer = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry());
  auto sut = RingReader::attach(instance_, "raw", {.name = "rec", .kind = ConsumerKind::Every});
  EXPECT_EQ(sut.published(), 0U);

  for (int i = 0; i < 3; ++i) publish_one(writer);

  EXPECT_EQ(sut.published(), 3U);
  EXPECT_EQ(writer.segment().published(), 3U);
  EXPECT_EQ(sut.cursor(), 0U) << "nothing read yet: three frames to drain";
}

TEST_F(RingTest, BlockedTimeGrowsWhileTheProducerWaitsForAnEveryConsumer) {
  auto sut = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry(2));
  auto reader = RingReader::attach(instance_, "raw", {.name = "rec", .kind = ConsumerKind::Every});
  publish_one(sut);
  publish_one(sut);
  EXPECT_EQ(sut.blocked_ns(), 0U);

  EXPECT_FALSE(sut.claim(1ms).has_value());

  EXPECT_GE(sut.blocked_ns(), 1'000'000U) << "it waited the whole claim timeout";
}

TEST_F(RingTest, FindConsumerGivesANamedConsumersStateAndCountersAndNothingForAnotherName) {
  auto writer = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry());
  auto reader = RingReader::attach(instance_, "raw", {.name = "rec", .kind = ConsumerKind::Every});
  publish_one(writer);
  auto frame = reader.read(1s);
  ASSERT_TRUE(frame.has_value());
  ASSERT_TRUE(reader.release(*frame));

  const auto sut = find_consumer(writer.segment(), "rec");

  ASSERT_TRUE(sut.has_value());
  EXPECT_EQ(sut->state, ConsumerState::Active);
  EXPECT_EQ(sut->kind, ConsumerKind::Every);
  EXPECT_EQ(sut->cursor, 1U);
  EXPECT_EQ(sut->frames_read, 1U);
  EXPECT_FALSE(find_consumer(writer.segment(), "view").has_value());
}

TEST_F(RingTest, ASegmentExistsByNameAndItsInstanceIsListed) {
  EXPECT_FALSE(Segment::exists(instance_, "raw"));
  auto writer = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry());

  EXPECT_TRUE(Segment::exists(instance_, "raw"));
  const auto instances = Segment::list_instances();
  EXPECT_EQ(std::count(instances.begin(), instances.end(), instance_), 1);
  EXPECT_TRUE(std::is_sorted(instances.begin(), instances.end()));
}

TEST_F(RingTest, OpeningAMissingRingNamesItAndSaysWhatToStart) {
  const std::string message = open_error(instance_, "nothere");
  EXPECT_NE(message.find("/dev/shm/framering." + instance_ + ".nothere"), std::string::npos) << message;
  EXPECT_NE(message.find("no producer"), std::string::npos) << message;
}

TEST_F(RingTest, BadNamesAreRejectedBeforeTouchingShm) {
  for (const std::string& bad : {std::string{}, std::string{"a/b"}, std::string{"../x"}, std::string{"has space"}, std::string{"dot.ted"}, std::string(48, 'a')}) {
    EXPECT_THROW((void)Segment::segment_name(instance_, bad), SegmentError) << bad;
    EXPECT_THROW((void)Segment::segment_name(bad, "raw"), SegmentError) << bad;
  }
  EXPECT_THROW((void)RingReader::attach(instance_, "raw", {.name = "bad name"}), SegmentError);
}

TEST_F(RingTest, ConsumerNameMustBeValid) {
  auto writer = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry());
  try {
    (void)RingReader::attach(instance_, "raw", {.name = std::string(32, 'x')});
    FAIL() << "a 32-byte consumer name must be rejected";
  } catch (const SegmentError& e) {
    EXPECT_NE(std::string(e.what()).find("consumer name"), std::string::npos);
  }
}

TEST_F(RingTest, WrongGeometryNamesBothSides) {
  auto writer = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry());
  RingGeometry expected = test::small_ring_geometry();
  expected.frame.width = 64;
  const std::string message = open_error(instance_, "raw", expected);
  EXPECT_NE(message.find("32x8"), std::string::npos) << message;
  EXPECT_NE(message.find("64x8"), std::string::npos) << message;
}

TEST_F(RingTest, ProducerWithOtherGeometryIsRefusedWhileTheRingIsInUse) {
  auto writer = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry());
  RingGeometry other = test::small_ring_geometry();
  other.frame.height = 16;
  try {
    (void)RingWriter::create_or_attach(instance_, "raw", other);
    FAIL() << "expected SegmentError";
  } catch (const SegmentError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("32x8"), std::string::npos) << message;
    EXPECT_NE(message.find("32x16"), std::string::npos) << message;
    EXPECT_NE(message.find("in use"), std::string::npos) << message;
  }
  EXPECT_EQ(writer.segment().header().height, 8U) << "the ring in use is untouched";
}

TEST_F(RingTest, StaleRingWithOtherGeometryIsReplaced) {
  { auto old = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry()); }  // detached: nobody alive
  RingGeometry other = test::small_ring_geometry();
  other.frame.height = 16;
  auto sut = RingWriter::create_or_attach(instance_, "raw", other);
  EXPECT_FALSE(sut.reattached());
  EXPECT_EQ(sut.segment().header().height, 16U);
}

class CorruptSegmentTest : public RingTest {
 protected:
  // Creates a valid segment, then overwrites `bytes` at `offset` in its file.
  void corrupt(std::size_t offset, const void* bytes, std::size_t size) {
    { auto writer = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry()); }
    std::fstream f("/dev/shm/framering." + instance_ + ".raw", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(static_cast<const char*>(bytes), static_cast<std::streamsize>(size));
  }
};

TEST_F(CorruptSegmentTest, ForeignMagicIsRefused) {
  const char magic[8] = {'N', 'O', 'T', 'O', 'U', 'R', 'S', '!'};
  corrupt(0, magic, 8);
  const std::string message = open_error(instance_, "raw");
  EXPECT_NE(message.find("magic"), std::string::npos) << message;
  EXPECT_NE(message.find("not a framering ring"), std::string::npos) << message;
  EXPECT_THROW((void)RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry()), SegmentError)
      << "a producer must not overwrite a foreign segment";
}

TEST_F(CorruptSegmentTest, OtherLayoutVersionIsRefusedNamingBothVersions) {
  const std::uint32_t version = kLayoutVersion + 1;
  corrupt(8, &version, 4);
  const std::string message = open_error(instance_, "raw");
  EXPECT_NE(message.find(fmt::format("layout version {}", kLayoutVersion + 1)), std::string::npos) << message;
  EXPECT_NE(message.find(fmt::format("layout version {}", kLayoutVersion)), std::string::npos) << message;
}

TEST_F(CorruptSegmentTest, TruncatedSegmentIsRefused) {
  { auto writer = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry()); }
  std::filesystem::resize_file("/dev/shm/framering." + instance_ + ".raw", 8192);
  const std::string message = open_error(instance_, "raw");
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
}

TEST_F(CorruptSegmentTest, ListingAnInstanceGivesEachRingsSnapshotOrWhyItCannotBeRead) {
  { auto stale = RingWriter::create_or_attach(instance_, "old", test::small_ring_geometry()); }
  auto live = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry());
  publish_one(live);
  { std::ofstream f("/dev/shm/framering." + instance_ + ".torn"); f << "x"; }
  const std::vector<RingListing> sut = list_instance(instance_);
  ASSERT_EQ(sut.size(), 3U);
  EXPECT_EQ(sut[0].ring, "old");
  EXPECT_TRUE(sut[0].status.has_value());
  EXPECT_TRUE(sut[0].stale) << "nobody is attached to it";
  EXPECT_EQ(sut[1].ring, "raw");
  ASSERT_TRUE(sut[1].status.has_value());
  EXPECT_FALSE(sut[1].stale);
  EXPECT_EQ(sut[1].status->published, 1U);
  EXPECT_EQ(sut[2].ring, "torn");
  EXPECT_FALSE(sut[2].status.has_value());
  EXPECT_NE(sut[2].error.find("truncated"), std::string::npos) << sut[2].error;
  EXPECT_EQ(to_json(sut[1])["producer"]["published"], 1);
  EXPECT_EQ(to_json(sut[1])["instance"], instance_);
  EXPECT_EQ(to_json(sut[0])["stale"], true);
  EXPECT_EQ(to_json(sut[2])["error"], sut[2].error);
  EXPECT_FALSE(to_json(sut[2]).contains("producer"));
}

TEST_F(CorruptSegmentTest, SegmentShorterThanAHeaderIsRefused) {
  { std::ofstream f("/dev/shm/framering." + instance_ + ".raw"); f << "x"; }
  const std::string message = open_error(instance_, "raw");
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
}

TEST_F(CorruptSegmentTest, InconsistentHeaderIsRefused) {
  const std::uint64_t bogus_slots_offset = 12345;
  corrupt(offsetof(SegmentHeader, slots_offset), &bogus_slots_offset, 8);
  const std::string message = open_error(instance_, "raw");
  EXPECT_NE(message.find("inconsistent"), std::string::npos) << message;
}

TEST_F(CorruptSegmentTest, HeaderWithAWildBlockOffsetIsRefusedNotFollowed) {
  const std::uint64_t wild = 1ULL << 40;  // following it would fault
  corrupt(offsetof(SegmentHeader, frame_headers_offset), &wild, 8);
  const std::string message = open_error(instance_, "raw");
  EXPECT_NE(message.find("inconsistent"), std::string::npos) << message;
}

TEST_F(CorruptSegmentTest, EntrySizeMismatchUnderTheSameVersionIsExplained) {
  const std::uint32_t entry_bytes = 256;
  corrupt(offsetof(SegmentHeader, consumer_entry_bytes), &entry_bytes, 4);
  const std::string message = open_error(instance_, "raw");
  EXPECT_NE(message.find("256 B consumer entries"), std::string::npos) << message;
}

TEST_F(RingTest, SecondProducerInTheSameProcessIsRefused) {
  auto first = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry());
  EXPECT_THROW((void)RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry()), SegmentError);
}

TEST_F(RingTest, ConsumerNameHeldInThisProcessIsRefused) {
  auto writer = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry());
  auto first = RingReader::attach(instance_, "raw", {.name = "view"});
  try {
    (void)RingReader::attach(instance_, "raw", {.name = "view"});
    FAIL() << "a name in use must be refused";
  } catch (const SegmentError& e) {
    EXPECT_NE(std::string(e.what()).find("in use"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_status(writer.segment()).consumers.size(), 1U) << "the first reader keeps its entry";
}

TEST_F(RingTest, ConsumerTableFullOfLiveConsumersIsAClearError) {
  auto writer = RingWriter::create_or_attach(instance_, "raw", test::small_ring_geometry());  // 4 entries
  std::vector<RingReader> readers;
  for (int i = 0; i < 4; ++i) readers.push_back(RingReader::attach(instance_, "raw", {.name = "c" + std::to_string(i)}));
  try {
    (void)RingReader::attach(instance_, "raw", {.name = "c4"});
    FAIL() << "the table is full";
  } catch (const SegmentError& e) {
    EXPECT_NE(std::string(e.what()).find("table is full"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace framering::ring
