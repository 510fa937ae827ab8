#include "framering/common/sequence_pattern.hpp"

#include <cstring>
#include <utility>
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

TEST(SequencePattern, Rgb8ChannelsEachEncodeTheSequenceOffsetBy85) {
  const FrameShape shape{4, 3, PixelFormat::RGB8, 16};  // 12 B of pixels, 4 B of padding per row
  std::vector<std::byte> frame(48, std::byte{0xAB});
  fill_sequence_pattern(frame, shape, 300);
  const std::byte* pixel = frame.data() + 2 * 16 + 3 * 1;  // x = 1, y = 2
  EXPECT_EQ(static_cast<std::uint8_t>(pixel[0]), (300 + 1 + 6) & 0xFF);
  EXPECT_EQ(static_cast<std::uint8_t>(pixel[1]), (300 + 1 + 6 + 85) & 0xFF);
  EXPECT_EQ(static_cast<std::uint8_t>(pixel[2]), (300 + 1 + 6 + 170) & 0xFF);
  EXPECT_EQ(frame[12], std::byte{0xAB}) << "row padding must be left alone";
  EXPECT_FALSE(check_sequence_pattern(frame, shape, 300).has_value());
  std::swap(frame[16 + 3], frame[16 + 5]);  // R and B of pixel (1, 1) swapped: caught
  const auto mismatch = check_sequence_pattern(frame, shape, 300);
  ASSERT_TRUE(mismatch.has_value());
  EXPECT_EQ(mismatch->x, 1U);
  EXPECT_EQ(mismatch->y, 1U);
  EXPECT_EQ(mismatch->channel, 0U);
}

TEST(SequencePattern, BayerIsOneSamplePerPixelLikeMono) {
  const FrameShape bayer{8, 2, PixelFormat::BayerRG16, 16};
  const FrameShape mono{8, 2, PixelFormat::Mono16, 16};
  std::vector<std::byte> a(32);
  std::vector<std::byte> b(32);
  fill_sequence_pattern(a, bayer, 77);
  fill_sequence_pattern(b, mono, 77);
  EXPECT_EQ(a, b);
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
