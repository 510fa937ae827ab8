#include "framering/common/sequence_pattern.hpp"

#include <cstring>
#include <vector>

#include <gtest/gtest.h>

namespace framering {
namespace {

TEST(SequencePattern, PixelsEncodeSequencePlusXPlusThreeY) {
  const FrameShape shape{5, 4, PixelFormat::Mono16, 12};  // stride 12 B > 10 B of pixels
  std::vector<std::byte> frame(48, std::byte{0xAB});
  fill_sequence_pattern(frame, shape, 70000);
  std::uint16_t px = 0;
  std::memcpy(&px, frame.data() + 2 * 12 + 2 * 3, 2);  // x = 3, y = 2
  EXPECT_EQ(px, static_cast<std::uint16_t>((70000 + 3 + 6) & 0xFFFF));
  EXPECT_EQ(frame[10], std::byte{0xAB}) << "row padding must be left alone";
}

TEST(SequencePattern, CheckFindsTheFirstWrongPixel) {
  const FrameShape shape{8, 8, PixelFormat::Mono16, 16};
  std::vector<std::byte> frame(128);
  fill_sequence_pattern(frame, shape, 42);
  EXPECT_FALSE(check_sequence_pattern(frame, shape, 42).has_value());
  frame[5 * 16 + 2 * 6] = std::byte{0xFF};
  const auto mismatch = check_sequence_pattern(frame, shape, 42);
  ASSERT_TRUE(mismatch.has_value());
  EXPECT_EQ(mismatch->x, 6U);
  EXPECT_EQ(mismatch->y, 5U);
}

TEST(SequencePattern, AnotherSequenceDoesNotMatch) {
  const FrameShape shape{8, 2, PixelFormat::Mono16, 16};
  std::vector<std::byte> frame(32);
  fill_sequence_pattern(frame, shape, 1);
  EXPECT_TRUE(check_sequence_pattern(frame, shape, 2).has_value());
}

TEST(SequencePattern, Mono12StaysWithinTwelveBits) {
  const FrameShape shape{4096, 1, PixelFormat::Mono12, 8192};
  std::vector<std::byte> frame(8192);
  fill_sequence_pattern(frame, shape, 0);
  std::uint16_t px = 0;
  std::memcpy(&px, frame.data() + 2 * 4095, 2);
  EXPECT_EQ(px, 0x0FFF);
  std::memcpy(&px, frame.data(), 2);
  EXPECT_EQ(px, 0);
}

TEST(SequencePattern, Mono8UsesOneBytePerPixel) {
  const FrameShape shape{300, 1, PixelFormat::Mono8, 300};
  std::vector<std::byte> frame(300);
  fill_sequence_pattern(frame, shape, 10);
  EXPECT_EQ(static_cast<std::uint8_t>(frame[299]), (10 + 299) & 0xFF);
  EXPECT_FALSE(check_sequence_pattern(frame, shape, 10).has_value());
}

}  // namespace
}  // namespace framering
