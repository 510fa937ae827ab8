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

TEST(PixelFormat, ColourAndBayerCodesAreThePfncValuesAravisUsesToo) {
  EXPECT_EQ(static_cast<std::uint32_t>(PixelFormat::RGB8), 0x02180014U);    // ARV_PIXEL_FORMAT_RGB_8_PACKED
  EXPECT_EQ(static_cast<std::uint32_t>(PixelFormat::BGR8), 0x02180015U);    // ARV_PIXEL_FORMAT_BGR_8_PACKED
  EXPECT_EQ(static_cast<std::uint32_t>(PixelFormat::BayerRG8), 0x01080009U);
  EXPECT_EQ(static_cast<std::uint32_t>(PixelFormat::BayerGR16), 0x0110002EU);
  EXPECT_EQ(static_cast<std::uint32_t>(PixelFormat::BayerBG12), 0x01100013U);
}

TEST(PixelFormat, SamplesAndBytesComeFromTheFormat) {
  EXPECT_EQ(bytes_per_pixel(PixelFormat::RGB8), 3U);
  EXPECT_EQ(samples_per_pixel(PixelFormat::RGB8), 3U);
  EXPECT_EQ(bytes_per_sample(PixelFormat::BGR8), 1U);
  EXPECT_EQ(samples_per_pixel(PixelFormat::BayerRG16), 1U);
  EXPECT_EQ(bytes_per_pixel(PixelFormat::BayerRG16), 2U);
  EXPECT_EQ(bytes_per_sample(PixelFormat::BayerGB8), 1U);
  EXPECT_EQ(significant_bits(PixelFormat::BayerGR12), 12U);
  EXPECT_EQ(significant_bits(PixelFormat::RGB8), 8U);
}

TEST(PixelFormat, MonoBayerAndColourAreToldApart) {
  EXPECT_TRUE(is_mono(PixelFormat::Mono12));
  EXPECT_FALSE(is_mono(PixelFormat::BayerRG8));
  EXPECT_FALSE(is_mono(PixelFormat::RGB8));
  EXPECT_FALSE(is_mono(static_cast<PixelFormat>(0x01080099)));
  EXPECT_TRUE(is_bayer(PixelFormat::BayerBG10));
  EXPECT_FALSE(is_bayer(PixelFormat::Mono8));
  EXPECT_EQ(cfa_pattern(PixelFormat::BayerRG8), "RGGB");
  EXPECT_EQ(cfa_pattern(PixelFormat::BayerGR16), "GRBG");
  EXPECT_EQ(cfa_pattern(PixelFormat::BayerGB12), "GBRG");
  EXPECT_EQ(cfa_pattern(PixelFormat::BayerBG10), "BGGR");
  EXPECT_EQ(cfa_pattern(PixelFormat::RGB8), "");
}

TEST(PixelFormat, EveryFormatsNameRoundTripsAndTheListNamesThemAll) {
  EXPECT_EQ(all_pixel_formats().size(), 23U);
  for (const PixelFormat format : all_pixel_formats()) {
    EXPECT_EQ(parse_pixel_format(to_string(format)), format) << to_string(format);
    EXPECT_TRUE(is_known_pixel_format(static_cast<std::uint32_t>(format)));
  }
  const std::string names = pixel_format_names(all_pixel_formats());
  EXPECT_EQ(names.substr(0, 30), "Mono8, Mono10, Mono12, Mono14,");
  EXPECT_NE(names.find("RGB8, BGR8, BayerRG8"), std::string::npos) << names;
  EXPECT_FALSE(parse_pixel_format("RGB8Packed").has_value());
  EXPECT_FALSE(parse_pixel_format("bayerrg8").has_value());
}

TEST(PixelFormat, SignificantBitsFollowTheName) {
  EXPECT_EQ(significant_bits(PixelFormat::Mono8), 8U);
  EXPECT_EQ(significant_bits(PixelFormat::Mono12), 12U);
  EXPECT_EQ(significant_bits(PixelFormat::Mono16), 16U);
}

}  // namespace
}  // namespace framering
