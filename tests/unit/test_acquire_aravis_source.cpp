// frame_id_gap: frames lost between two GigE Vision block ids, across the 16-bit wrap.
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
}  // namespace framering::acquire
