// ContrastStretch: the three ways of choosing the input range, the mapping onto 0..255, and the
// checks of its settings; FrameRenderer and Colormap on top of it.
#include "framering/display/contrast.hpp"

#include <cstdint>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "framering/common/error.hpp"
#include "framering/display/colormap.hpp"
#include "framering/display/frame_renderer.hpp"

namespace framering::display {
namespace {

/// A Mono16 frame held by the test, rows `stride_bytes` apart (padding filled with 0xEE so that a
/// stretch that reads it shows).
struct Frame16 {
  Frame16(std::uint32_t w, std::uint32_t h, std::uint64_t stride = 0)
      : width(w), height(h), stride_bytes(stride == 0 ? w * 2ULL : stride), bytes(stride_bytes * h, std::byte{0xEE}) {}
  void set(std::uint32_t x, std::uint32_t y, std::uint16_t v) {
    std::memcpy(bytes.data() + y * stride_bytes + x * 2ULL, &v, 2);
  }
  [[nodiscard]] MonoImageView view() const { return {bytes, width, height, stride_bytes, PixelFormat::Mono16}; }
  std::uint32_t width;
  std::uint32_t height;
  std::uint64_t stride_bytes;
  std::vector<std::byte> bytes;
};

/// A frame of `values` in one row.
Frame16 row_of(const std::vector<std::uint16_t>& values) {
  Frame16 f(static_cast<std::uint32_t>(values.size()), 1);
  for (std::uint32_t x = 0; x < f.width; ++x) f.set(x, 0, values[x]);
  return f;
}

std::vector<std::uint8_t> stretch(ContrastStretch& sut, const Frame16& f) {
  std::vector<std::uint8_t> out(std::size_t{f.width} * f.height, 0xAB);
  (void)sut.stretch(f.view(), {out, f.width, f.height, f.width});
  return out;
}

ContrastSettings mode(ContrastMode m) {
  ContrastSettings s;
  s.mode = m;
  return s;
}

TEST(ContrastStretch, MinMaxMapsTheSmallestPixelToZeroAndTheLargestTo255) {
  ContrastStretch sut(mode(ContrastMode::MinMax));
  const Frame16 f = row_of({1000, 3000, 2000, 5000});

  const auto out = stretch(sut, f);

  EXPECT_EQ(sut.limits(f.view()), (ContrastLimits{1000, 5000}));
  EXPECT_EQ(out, (std::vector<std::uint8_t>{0, 128, 64, 255}));  // 2000 -> 63.75, 3000 -> 127.5 round up
}

TEST(ContrastStretch, MinMaxIgnoresRowPadding) {
  ContrastStretch sut(mode(ContrastMode::MinMax));
  Frame16 f(2, 2, 64);  // padding bytes 0xEEEE would be the maximum if read
  f.set(0, 0, 10);
  f.set(1, 0, 20);
  f.set(0, 1, 30);
  f.set(1, 1, 40);

  EXPECT_EQ(sut.limits(f.view()), (ContrastLimits{10, 40}));
  EXPECT_EQ(stretch(sut, f), (std::vector<std::uint8_t>{0, 85, 170, 255}));
}

TEST(ContrastStretch, AFlatFrameMapsToBlackInsteadOfDividingByZero) {
  ContrastStretch sut(mode(ContrastMode::MinMax));
  const Frame16 f = row_of({700, 700, 700});

  EXPECT_EQ(stretch(sut, f), (std::vector<std::uint8_t>{0, 0, 0}));
}

TEST(ContrastStretch, PercentileIgnoresAFewOutliersThatMinMaxWouldFollow) {
  // 10,000 pixels spread over 1000..1999, plus one dead (0) and one hot (65535) pixel.
  Frame16 f(100, 101);
  for (std::uint32_t i = 0; i < 100 * 100; ++i) f.set(i % 100, i / 100, static_cast<std::uint16_t>(1000 + i % 1000));
  f.set(0, 100, 0);
  f.set(1, 100, 65535);
  for (std::uint32_t x = 2; x < 100; ++x) f.set(x, 100, 1500);
  ContrastSettings s = mode(ContrastMode::Percentile);
  s.percentile_low = 1.0;
  s.percentile_high = 99.0;
  ContrastStretch sut(s);

  const ContrastLimits limits = sut.limits(f.view());

  EXPECT_GE(limits.low, 1000U);
  EXPECT_LE(limits.low, 1020U);
  EXPECT_GE(limits.high, 1980U);
  EXPECT_LE(limits.high, 1999U);
  ContrastStretch minmax(mode(ContrastMode::MinMax));
  EXPECT_EQ(minmax.limits(f.view()), (ContrastLimits{0, 65535}));
}

TEST(ContrastStretch, PercentileZeroToHundredIsMinMax) {
  const Frame16 f = row_of({5, 9, 400, 17, 3});
  ContrastSettings s = mode(ContrastMode::Percentile);
  s.percentile_low = 0.0;
  s.percentile_high = 100.0;
  ContrastStretch sut(s);

  EXPECT_EQ(sut.limits(f.view()), (ContrastLimits{3, 400}));
}

TEST(ContrastStretch, FixedClampsBelowMinToZeroAndAboveMaxTo255) {
  ContrastSettings s = mode(ContrastMode::Fixed);
  s.fixed_min = 100;
  s.fixed_max = 355;
  ContrastStretch sut(s);
  const Frame16 f = row_of({0, 99, 100, 101, 354, 355, 356, 65535});

  EXPECT_EQ(stretch(sut, f), (std::vector<std::uint8_t>{0, 0, 0, 1, 254, 255, 255, 255}));
}

TEST(ContrastStretch, FixedWithoutMaxUsesTheFullScaleOfTheFormat) {
  ContrastStretch sut(mode(ContrastMode::Fixed));
  const Frame16 f = row_of({0, 65535});
  MonoImageView mono12 = f.view();
  mono12.pixel_format = PixelFormat::Mono12;

  EXPECT_EQ(sut.limits(f.view()), (ContrastLimits{0, 65535}));
  EXPECT_EQ(sut.limits(mono12), (ContrastLimits{0, 4095}));
}

TEST(ContrastStretch, Mono8FramesAreStretchedToo) {
  ContrastStretch sut(mode(ContrastMode::MinMax));
  const std::vector<std::byte> pixels{std::byte{10}, std::byte{20}, std::byte{30}};
  std::vector<std::uint8_t> out(3);

  (void)sut.stretch({pixels, 3, 1, 3, PixelFormat::Mono8}, {out, 3, 1, 3});

  EXPECT_EQ(out, (std::vector<std::uint8_t>{0, 128, 255}));
}

TEST(ContrastStretch, ChangingTheModeChangesTheLimits) {
  ContrastSettings s = mode(ContrastMode::MinMax);
  s.fixed_min = 0;
  s.fixed_max = 1000;
  ContrastStretch sut(s);
  const Frame16 f = row_of({200, 400});

  sut.set_mode(ContrastMode::Fixed);

  EXPECT_EQ(sut.limits(f.view()), (ContrastLimits{0, 1000}));
}

TEST(ContrastStretch, RejectsPercentilesOutOfOrderNamingTheOptions) {
  ContrastSettings s;
  s.percentile_low = 50;
  s.percentile_high = 10;
  try {
    ContrastStretch sut(s);
    FAIL() << "accepted low > high";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--percentile-low"), std::string::npos) << e.what();
  }
}

TEST(ContrastStretch, RejectsFixedMinNotBelowFixedMax) {
  ContrastSettings s;
  s.fixed_min = 500;
  s.fixed_max = 500;
  EXPECT_THROW(ContrastStretch{s}, ConfigError);
}

TEST(ContrastStretch, RejectsAnOutputOfTheWrongSize) {
  ContrastStretch sut(mode(ContrastMode::MinMax));
  const Frame16 f = row_of({1, 2, 3});
  std::vector<std::uint8_t> out(2);

  EXPECT_THROW((void)sut.stretch(f.view(), {out, 2, 1, 2}), ConfigError);
}

TEST(ContrastMode, NamesRoundTripAndCycleThroughAllThree) {
  for (ContrastMode m : {ContrastMode::MinMax, ContrastMode::Percentile, ContrastMode::Fixed}) {
    EXPECT_EQ(parse_contrast_mode(to_string(m)), m);
  }
  EXPECT_EQ(parse_contrast_mode("linear"), std::nullopt);
  EXPECT_EQ(next_contrast_mode(next_contrast_mode(next_contrast_mode(ContrastMode::MinMax))), ContrastMode::MinMax);
}

TEST(Colormap, UnknownNameIsAConfigErrorListingTheValidNames) {
  try {
    (void)Colormap::from_name("virdis");
    FAIL() << "accepted an unknown name";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("virdis"), std::string::npos) << what;
    for (const char* name : {"none", "viridis", "inferno", "magma", "plasma", "jet", "turbo", "hot", "gray"}) {
      EXPECT_NE(what.find(name), std::string::npos) << name << " missing from: " << what;
    }
  }
}

TEST(Colormap, NamedMapGivesThreeChannelBgrAsOpenCvMapsIt) {
  const Colormap sut = Colormap::from_name("viridis");
  cv::Mat gray(2, 256, CV_8UC1);
  for (int x = 0; x < 256; ++x) gray.at<std::uint8_t>(0, x) = gray.at<std::uint8_t>(1, x) = static_cast<std::uint8_t>(x);
  cv::Mat out;

  sut.apply(gray, out);

  ASSERT_EQ(out.type(), CV_8UC3);
  cv::Mat expected;
  cv::applyColorMap(gray, expected, cv::COLORMAP_VIRIDIS);
  EXPECT_EQ(cv::norm(out, expected, cv::NORM_INF), 0.0);
  // viridis runs from dark purple (blue > red) to yellow (red > blue): the order is B, G, R.
  const auto low = out.at<cv::Vec3b>(0, 0);
  const auto high = out.at<cv::Vec3b>(0, 255);
  EXPECT_GT(low[0], low[2]);
  EXPECT_GT(high[2], high[0]);
}

TEST(Colormap, NoneAndGrayKeepOneChannel) {
  cv::Mat gray(1, 3, CV_8UC1, cv::Scalar(7));
  for (const char* name : {"none", "gray"}) {
    const Colormap sut = Colormap::from_name(name);
    cv::Mat out;
    sut.apply(gray, out);
    EXPECT_TRUE(sut.is_gray());
    ASSERT_EQ(out.type(), CV_8UC1) << name;
    EXPECT_EQ(cv::norm(out, gray, cv::NORM_INF), 0.0) << name;
  }
}

TEST(FrameRenderer, RendersTheStretchedFrameThroughTheColormap) {
  ContrastSettings s = mode(ContrastMode::MinMax);
  FrameRenderer sut(s, Colormap::from_name("hot"));
  const Frame16 f = row_of({0, 500, 1000});
  cv::Mat out;

  const ContrastLimits limits = sut.render(f.view(), out);

  EXPECT_EQ(limits, (ContrastLimits{0, 1000}));
  ASSERT_EQ(out.type(), CV_8UC3);
  ASSERT_EQ(out.cols, 3);
  cv::Mat gray(1, 3, CV_8UC1);
  gray.at<std::uint8_t>(0, 0) = 0;
  gray.at<std::uint8_t>(0, 1) = 128;
  gray.at<std::uint8_t>(0, 2) = 255;
  cv::Mat expected;
  cv::applyColorMap(gray, expected, cv::COLORMAP_HOT);
  EXPECT_EQ(cv::norm(out, expected, cv::NORM_INF), 0.0);
}

TEST(FrameRenderer, RgbFramesAreShownInColourWithOneStretchOverTheThreeChannels) {
  FrameRenderer sut(mode(ContrastMode::MinMax), Colormap::from_name("hot"));  // no map for colour
  // Two RGB8 pixels, rows 8 bytes apart: (10, 60, 110) and (110, 10, 60).
  std::vector<std::byte> pixels(8, std::byte{0xEE});
  const std::uint8_t rgb[6] = {10, 60, 110, 110, 10, 60};
  std::memcpy(pixels.data(), rgb, 6);
  cv::Mat out;

  const ContrastLimits limits = sut.render({pixels, 2, 1, 8, PixelFormat::RGB8}, out);

  EXPECT_EQ(limits, (ContrastLimits{10, 110})) << "one min and max over every sample of R, G and B";
  ASSERT_EQ(out.type(), CV_8UC3);
  ASSERT_EQ(out.cols, 2);
  const auto& first = out.at<cv::Vec3b>(0, 0);  // B, G, R as OpenCV keeps them
  EXPECT_EQ(first, cv::Vec3b(255, 128, 0));
  EXPECT_EQ(out.at<cv::Vec3b>(0, 1), cv::Vec3b(128, 0, 255));
}

TEST(FrameRenderer, BayerMosaicsAreDemosaicedByTheirOwnPattern) {
  // A red scene seen through each CFA: only the pixels behind a red filter see light.
  for (const PixelFormat format : {PixelFormat::BayerRG8, PixelFormat::BayerGR8, PixelFormat::BayerGB8,
                                   PixelFormat::BayerBG8}) {
    SCOPED_TRACE(std::string(to_string(format)));
    const std::string_view cfa = cfa_pattern(format);
    std::vector<std::byte> pixels(8 * 8, std::byte{0});
    for (std::uint32_t y = 0; y < 8; ++y) {
      for (std::uint32_t x = 0; x < 8; ++x) {
        if (cfa[(y % 2) * 2 + x % 2] == 'R') pixels[y * 8 + x] = std::byte{200};
      }
    }
    FrameRenderer sut(mode(ContrastMode::MinMax), Colormap::from_name("gray"));
    cv::Mat out;
    sut.render({pixels, 8, 8, 8, format}, out);
    ASSERT_EQ(out.type(), CV_8UC3);
    const cv::Vec3b centre = out.at<cv::Vec3b>(4, 4);
    EXPECT_EQ(centre[2], 255) << "red";
    EXPECT_EQ(centre[1], 0) << "no green";
    EXPECT_EQ(centre[0], 0) << "no blue";
  }
}

TEST(FrameRenderer, CopyRawKeepsTheCountsAndDropsRowPadding) {
  Frame16 f(2, 2, 4096);
  f.set(0, 0, 1);
  f.set(1, 0, 65535);
  f.set(0, 1, 300);
  f.set(1, 1, 4);
  cv::Mat out;

  FrameRenderer::copy_raw(f.view(), out);

  ASSERT_EQ(out.type(), CV_16UC1);
  EXPECT_EQ(out.at<std::uint16_t>(0, 1), 65535);
  EXPECT_EQ(out.at<std::uint16_t>(1, 0), 300);
  EXPECT_EQ(out.at<std::uint16_t>(1, 1), 4);
}

}  // namespace
}  // namespace framering::display
