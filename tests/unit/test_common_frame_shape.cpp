#include "framering/common/frame_shape.hpp"

#include <gtest/gtest.h>

#include <string>

#include "framering/common/error.hpp"

namespace framering {
namespace {

std::string refusal(const FrameShape& shape, std::string_view subject = "frame shape") {
  try {
    shape.validate(subject);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(FrameShape, StrideZeroMeansPackedRows) {
  const FrameShape sut{.width = 333, .height = 7, .pixel_format = PixelFormat::Mono12};
  EXPECT_EQ(sut.packed_row_bytes(), 666U);
  EXPECT_EQ(sut.row_stride_bytes(), 666U);
  EXPECT_EQ(sut.frame_bytes(), 666U * 7U);
  EXPECT_EQ(sut.packed_frame_bytes(), 666U * 7U);
}

TEST(FrameShape, AnExplicitStrideCountsInFrameBytesButNotInPackedBytes) {
  const FrameShape sut{.width = 5, .height = 4, .pixel_format = PixelFormat::Mono8, .stride_bytes = 64};
  EXPECT_EQ(sut.row_stride_bytes(), 64U);
  EXPECT_EQ(sut.frame_bytes(), 256U);
  EXPECT_EQ(sut.packed_row_bytes(), 5U);
  EXPECT_EQ(sut.packed_frame_bytes(), 20U);
}

TEST(FrameShape, ImpossibleShapesAreRejectedWithTheSubjectAndFieldNamed) {
  EXPECT_EQ(refusal({.width = 0, .height = 8}), "frame shape: width 0 is out of range (expected 1..65536)");
  EXPECT_EQ(refusal({.width = 8, .height = 65537}, "ring geometry"),
            "ring geometry: height 65537 is out of range (expected 1..65536)");
  EXPECT_NE(refusal({.width = 8, .height = 8, .pixel_format = static_cast<PixelFormat>(0x01100099)}).find("PFNC"),
            std::string::npos);
  EXPECT_EQ(refusal({.width = 8, .height = 8, .stride_bytes = 15}),
            "frame shape: stride 15 B is below width x bytes per pixel = 16 B");
  EXPECT_EQ(refusal({.width = 8, .height = 8, .stride_bytes = 16}), "");
  EXPECT_EQ(refusal({.width = 65536, .height = 1}), "");
}

TEST(FrameShape, ToStringGivesTheRowStrideAsUsed) {
  EXPECT_EQ((FrameShape{.width = 1920, .height = 1080}).to_string(), "1920x1080 Mono16 stride 3840 B");
  EXPECT_EQ((FrameShape{.width = 5, .height = 4, .pixel_format = PixelFormat::Mono8, .stride_bytes = 64}).to_string(),
            "5x4 Mono8 stride 64 B");
}

TEST(FrameShape, ShapesCompareFieldByField) {
  const FrameShape packed{.width = 8, .height = 2};
  EXPECT_EQ(packed, (FrameShape{.width = 8, .height = 2}));
  EXPECT_NE(packed, (FrameShape{.width = 8, .height = 2, .stride_bytes = 16}));  // same bytes, other declaration
}

}  // namespace
}  // namespace framering
