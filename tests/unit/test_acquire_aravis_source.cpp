// frame_id_gap: frames lost between two GigE Vision block ids, across the 16-bit wrap; outage_loss:
// what a camera outage cost, from the timestamps around it.
#include <gtest/gtest.h>

#include "framering/acquire/aravis_source.hpp"

namespace framering::acquire {
namespace {

TEST(FrameIdGap, IsZeroForConsecutiveIds) {
  EXPECT_EQ(frame_id_gap(1, 2), 0U);
  EXPECT_EQ(frame_id_gap(65400, 65401), 0U);
}

TEST(FrameIdGap, CountsTheIdsSkipped) {
  EXPECT_EQ(frame_id_gap(10, 13), 2U);
  EXPECT_EQ(frame_id_gap(1, 65535), 65533U);
}

TEST(FrameIdGap, WrapsFrom65535To1SkippingZero) {
  EXPECT_EQ(frame_id_gap(65535, 1), 0U);
  EXPECT_EQ(frame_id_gap(65534, 1), 1U);  // 65535 lost
  EXPECT_EQ(frame_id_gap(65534, 2), 2U);  // 65535 and 1 lost
  EXPECT_EQ(frame_id_gap(65535, 3), 2U);
}

TEST(FrameIdGap, IsZeroForARepeatedId) { EXPECT_EQ(frame_id_gap(500, 500), 0U); }

TEST(FrameIdGap, ExtendedIdsDoNotWrap) {
  EXPECT_EQ(frame_id_gap(70000, 70003), 2U);
  EXPECT_EQ(frame_id_gap(1ULL << 40U, 5), 0U) << "a 64-bit id going backwards is a camera restart, not a gap";
}

}  // namespace
TEST(OutageLoss, CountsTheFramePeriodsBetweenTheFramesAroundTheOutage) {
  // 30 Hz, last frame at 1.0 s, first after at 10.5 s: 285 periods, 284 frames between them.
  EXPECT_EQ(outage_loss(1'000'000'000, 10'500'000'000, 30.0), 284U);
}

TEST(OutageLoss, IsAtLeastOneAndCountsOneHertzWithoutAFrameRate) {
  EXPECT_EQ(outage_loss(1'000'000'000, 1'010'000'000, 30.0), 1U) << "a detected outage lost something";
  EXPECT_EQ(outage_loss(1'000'000'000, 9'000'000'000, 0.0), 7U);
  EXPECT_EQ(outage_loss(0, 9'000'000'000, 30.0), 1U) << "no frame before it";
}

}  // namespace framering::acquire
