#include "framering/common/pixel_format.hpp"

#include <gtest/gtest.h>

namespace framering {
namespace {

TEST(PixelFormat, CodesAreThePfncValues) {
  EXPECT_EQ(static_cast<std::uint32_t>(PixelFormat::Mono8), 0x01080001U);
  EXPECT_EQ(static_cast<std::uint32_t>(PixelFormat::Mono12), 0x01100005U);
  EXPECT_EQ(static_cast<std::uint32_t>(PixelFormat::Mono16), 0x01100007U);
}

TEST(PixelFormat, BytesPerPixelComesFromTheCode) {
  EXPECT_EQ(bytes_per_pixel(PixelFormat::Mono8), 1U);
  EXPECT_EQ(bytes_per_pixel(PixelFormat::Mono12), 2U);
  EXPECT_EQ(bytes_per_pixel(PixelFormat::Mono16), 2U);
}

TEST(PixelFormat, NamesRoundTripExactlyAsPfncSpellsThem) {
  for (auto format : {PixelFormat::Mono8, PixelFormat::Mono10, PixelFormat::Mono12, PixelFormat::Mono14, PixelFormat::Mono16}) {
    const auto parsed = parse_pixel_format(to_string(format));
    ASSERT_TRUE(parsed.has_value()) << to_string(format);
    EXPECT_EQ(*parsed, format);
  }
  EXPECT_FALSE(parse_pixel_format("mono16").has_value());
  EXPECT_FALSE(parse_pixel_format("Mono12p").has_value());
  EXPECT_EQ(to_string(static_cast<PixelFormat>(0x12345678)), "Unknown");
}

TEST(PixelFormat, SignificantBitsFollowTheName) {
  EXPECT_EQ(significant_bits(PixelFormat::Mono8), 8U);
  EXPECT_EQ(significant_bits(PixelFormat::Mono12), 12U);
  EXPECT_EQ(significant_bits(PixelFormat::Mono16), 16U);
}

}  // namespace
}  // namespace framering
