#include "framering/common/ring_geometry.hpp"

#include <string>

#include <gtest/gtest.h>

#include "framering/common/error.hpp"
#include "framering/common/ring_layout.hpp"

namespace framering::ring {
namespace {

TEST(RingGeometry, SlotStrideIsFrameBytesRoundedUpToAPage) {
  RingGeometry sut;  // 1920x1080 Mono16
  EXPECT_EQ(sut.row_stride_bytes(), 3840U);
  EXPECT_EQ(sut.frame_bytes(), 3840U * 1080U);
  EXPECT_EQ(sut.slot_stride_bytes() % kPageBytes, 0U);
  EXPECT_GE(sut.slot_stride_bytes(), sut.frame_bytes());
  EXPECT_LT(sut.slot_stride_bytes() - sut.frame_bytes(), kPageBytes);
}

TEST(RingGeometry, LayoutPutsSlotsOnPagesAndBlocksOnCacheLines) {
  RingGeometry sut;
  sut.frame.width = 333;  // odd sizes: nothing may rely on a round frame size
  sut.frame.height = 7;
  sut.slot_count = 5;
  sut.max_consumers = 3;
  const SegmentLayout layout = compute_layout(sut);
  EXPECT_EQ(layout.control_offset % kCacheLineBytes, 0U);
  EXPECT_EQ(layout.consumers_offset % kCacheLineBytes, 0U);
  EXPECT_EQ(layout.frame_headers_offset % kCacheLineBytes, 0U);
  EXPECT_EQ(layout.slots_offset % kPageBytes, 0U);
  EXPECT_EQ(layout.slot_stride_bytes % kPageBytes, 0U);
  EXPECT_GE(layout.frame_headers_offset, layout.consumers_offset + 3 * sizeof(ConsumerEntry));
  EXPECT_GE(layout.slots_offset, layout.frame_headers_offset + 5 * sizeof(FrameHeader));
  EXPECT_EQ(layout.segment_bytes, layout.slots_offset + 5 * layout.slot_stride_bytes);
}

TEST(RingGeometry, ExplicitStrideBelowTheRowIsRejected) {
  RingGeometry sut;
  sut.frame.stride_bytes = 3838;
  EXPECT_THROW(sut.validate(), ConfigError);
}

TEST(RingGeometry, StrideWhoseFrameWouldWrapAround64BitsIsRejected) {
  RingGeometry sut;
  sut.frame.width = 32;
  sut.frame.height = 8;
  sut.frame.stride_bytes = (1ULL << 62U) + 64;  // x 8 rows = 2^65 + 512: 512 once wrapped
  sut.slot_count = 4;

  try {
    sut.validate();
    ADD_FAILURE() << "accepted a " << sut.frame_bytes() << " B frame of 8 rows of 2^62 + 64 B";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("over the 64 GiB limit"), std::string::npos) << e.what();
  }
}

TEST(RingGeometry, ImpossibleShapesAreRejectedWithTheFieldNamed) {
  auto message = [](RingGeometry g) -> std::string {
    try {
      g.validate();
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  };
  RingGeometry zero_width;
  zero_width.frame.width = 0;
  EXPECT_NE(message(zero_width).find("width 0"), std::string::npos);
  RingGeometry one_slot;
  one_slot.slot_count = 1;
  EXPECT_NE(message(one_slot).find("1 slots"), std::string::npos);
  RingGeometry bad_format;
  bad_format.frame.pixel_format = static_cast<PixelFormat>(0x01100099);
  EXPECT_NE(message(bad_format).find("PFNC"), std::string::npos);
  RingGeometry huge;
  huge.frame.width = 65536;
  huge.frame.height = 65536;
  huge.slot_count = 64;
  EXPECT_NE(message(huge).find("64 GiB"), std::string::npos);
  EXPECT_EQ(message(RingGeometry{}), "");
}

}  // namespace
}  // namespace framering::ring
