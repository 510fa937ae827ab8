// test_led_map.cpp: the LED screen's polar map and colour steps on synthetic images with
// known answers (a radial gradient, an angular gradient, linear ramps whose bilinear samples are
// exact), the preview's disc, and bad geometry.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <span>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>

#include "framering/common/error.hpp"
#include "framering/display/colormap.hpp"
#include "framering/display/contrast.hpp"
#include "framering/led/led_geometry.hpp"
#include "framering/led/led_preview.hpp"
#include "framering/led/led_renderer.hpp"

namespace framering::led {
namespace {

constexpr std::uint32_t kSide = 401;  // odd: the centre is pixel (200, 200)

// A kSide x kSide Mono16 image with pixel (x, y) = f(x, y) rounded.
template <class F>
std::vector<std::uint16_t> image(F f, std::uint32_t w = kSide, std::uint32_t h = kSide) {
  std::vector<std::uint16_t> px(std::uint64_t{w} * h);
  for (std::uint32_t y = 0; y < h; ++y) {
    for (std::uint32_t x = 0; x < w; ++x) {
      px[std::uint64_t{y} * w + x] = static_cast<std::uint16_t>(std::lround(f(double(x), double(y))));
    }
  }
  return px;
}

std::vector<std::uint16_t> sample(const PolarMap& map, const std::vector<std::uint16_t>& px) {
  std::vector<std::uint16_t> out(map.geometry().led_count());
  map.sample<std::uint16_t>(px, out);
  return out;
}

LedGeometry small_geometry() {
  LedGeometry g;
  g.vanes = 72;
  g.leds_per_vane = 40;
  g.hub_fraction = 0.2;
  return g;
}

TEST(PolarMap, RadialGradientGivesTheSameValueForAnLedIndexOnEveryVane) {
  const LedGeometry g = small_geometry();
  const PolarMap sut(g, kSide, kSide, kSide);
  const auto out = sample(sut, image([](double x, double y) { return 100.0 * std::hypot(x - 200.0, y - 200.0); }));
  for (std::uint32_t led = 0; led < g.leds_per_vane; ++led) {
    std::uint16_t lo = 65535;
    std::uint16_t hi = 0;
    for (std::uint32_t v = 0; v < g.vanes; ++v) {
      lo = std::min(lo, out[v * g.leds_per_vane + led]);
      hi = std::max(hi, out[v * g.leds_per_vane + led]);
    }
    // 100 counts per pixel of radius: the values of one ring agree to a fraction of a pixel.
    EXPECT_LE(hi - lo, 50) << "LED " << led;
    // Hub first: the ring radius R * (0.2 + 0.8 * (led + 0.5) / 40), R = 200.5.
    const double expected = 100.0 * 200.5 * (0.2 + 0.8 * (led + 0.5) / 40.0);
    EXPECT_NEAR(out[led], expected, 60.0) << "LED " << led;
  }
}

TEST(PolarMap, AngularGradientGivesTheSameValueAlongEachVane) {
  const LedGeometry g = small_geometry();
  const PolarMap sut(g, kSide, kSide, kSide);
  // 30000 + 20000 sin(angle clockwise from up): a function of the angle only.
  const auto out = sample(sut, image([](double x, double y) {
    return 30000.0 + 20000.0 * std::sin(std::atan2(x - 200.0, -(y - 200.0)));
  }));
  for (std::uint32_t v = 0; v < g.vanes; ++v) {
    const double angle = 2.0 * std::numbers::pi * v / g.vanes;
    const double expected = 30000.0 + 20000.0 * std::sin(angle);
    for (std::uint32_t led = 0; led < g.leds_per_vane; ++led) {
      // Bilinear sampling of a function of the angle errs most near the hub (40 px out here).
      EXPECT_NEAR(out[v * g.leds_per_vane + led], expected, 150.0) << "vane " << v << " LED " << led;
    }
  }
}

// With f(x, y) = x (or y), bilinear sampling is exact: each sample is the LED's x (or y).
TEST(PolarMap, VaneZeroPointsAtTheConfiguredAngleAndLedZeroIsAtTheHub) {
  LedGeometry g = small_geometry();
  g.vane0_angle_deg = 90.0;  // 3 o'clock: +x
  const PolarMap sut(g, kSide, kSide, kSide);
  const auto xs = sample(sut, image([](double x, double) { return 100.0 * x; }));
  const auto ys = sample(sut, image([](double, double y) { return 100.0 * y; }));
  for (std::uint32_t led = 0; led < g.leds_per_vane; ++led) {
    const double r = 200.5 * (0.2 + 0.8 * (led + 0.5) / 40.0);
    EXPECT_NEAR(xs[led], 100.0 * (200.0 + r), 1.0) << "LED " << led;  // to the right of the centre
    EXPECT_NEAR(ys[led], 100.0 * 200.0, 1.0) << "LED " << led;        // on the centre row
  }
  EXPECT_LT(xs[0], xs[g.leds_per_vane - 1]);  // LED 0 nearest the centre
}

TEST(PolarMap, LedZeroIsAtTheRimWhenConfigured) {
  LedGeometry g = small_geometry();
  g.led0 = Led0Position::Rim;  // vane 0 up (default angle)
  const PolarMap sut(g, kSide, kSide, kSide);
  const auto ys = sample(sut, image([](double, double y) { return 100.0 * y; }));
  const double rim_r = 200.5 * (0.2 + 0.8 * 39.5 / 40.0);
  const double hub_r = 200.5 * (0.2 + 0.8 * 0.5 / 40.0);
  EXPECT_NEAR(ys[0], 100.0 * (200.0 - rim_r), 1.0);    // LED 0: up, at the rim
  EXPECT_NEAR(ys[39], 100.0 * (200.0 - hub_r), 1.0);   // last LED: up, at the hub
}

TEST(PolarMap, VanesTurnClockwiseByDefaultAndCounterClockwiseWhenConfigured) {
  LedGeometry g = small_geometry();  // 72 vanes: vane 18 is a quarter turn from vane 0 (up)
  const auto xs_image = image([](double x, double) { return 100.0 * x; });
  const PolarMap cw(g, kSide, kSide, kSide);
  g.direction = VaneDirection::Ccw;
  const PolarMap ccw(g, kSide, kSide, kSide);
  const std::uint32_t rim = 18 * g.leds_per_vane + g.leds_per_vane - 1;
  EXPECT_GT(sample(cw, xs_image)[rim], 100 * 390);   // clockwise from up is right (3 o'clock)
  EXPECT_LT(sample(ccw, xs_image)[rim], 100 * 10);   // counter-clockwise is left (9 o'clock)
}

TEST(PolarMap, InscribesTheDiscInAWideImage) {
  const LedGeometry g = small_geometry();
  const PolarMap sut(g, 640, 480, 640);
  EXPECT_DOUBLE_EQ(sut.centre_x(), 319.5);
  EXPECT_DOUBLE_EQ(sut.centre_y(), 239.5);
  EXPECT_DOUBLE_EQ(sut.radius(), 240.0);
}

TEST(PolarMap, ClampsSamplesOutsideTheImageToItsBorder) {
  const LedGeometry g = small_geometry();
  DiscPlacement placement;
  placement.radius = 1000.0;  // far outside a 401 x 401 image
  const PolarMap sut(g, kSide, kSide, kSide, placement);
  const auto ys = sample(sut, image([](double, double y) { return 100.0 * y; }));
  EXPECT_EQ(ys[g.leds_per_vane - 1], 0);  // vane 0, rim: above row 0, clamped to it
}

TEST(LedGeometry, RejectsZeroVanesZeroLedsAndAHubAsLargeAsTheRim) {
  LedGeometry g;
  g.vanes = 0;
  EXPECT_THROW(g.validate(), ConfigError);
  try {
    g.validate();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--vanes 0"), std::string::npos) << e.what();
  }
  g = {};
  g.leds_per_vane = 0;
  EXPECT_THROW(g.validate(), ConfigError);
  for (const double hub : {1.0, 1.5, -0.1, std::nan("")}) {
    g = {};
    g.hub_fraction = hub;
    try {
      g.validate();
      ADD_FAILURE() << "hub " << hub << " accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("hub must be smaller than the rim"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(PolarMap(LedGeometry{.vanes = 0}, 10, 10, 10), ConfigError);
}

// ---- colour ----------------------------------------------------------------------------------

display::MonoImageView mono8(const std::vector<std::uint8_t>& px, std::uint32_t w, std::uint32_t h) {
  return {std::as_bytes(std::span(px)), w, h, w, PixelFormat::Mono8};
}

LedColourSettings plain_colour() {
  LedColourSettings c;
  c.contrast.mode = display::ContrastMode::Fixed;
  c.contrast.fixed_min = 0;
  c.contrast.fixed_max = 255;
  c.gamma = 1.0;
  c.brightness_cap = 1.0;
  return c;
}

TEST(LedRenderer, GreyGoesToEqualRgbThroughTheGammaTable) {
  LedColourSettings c = plain_colour();
  c.gamma = 2.2;
  LedRenderer sut(small_geometry(), {}, c);
  const std::vector<std::uint8_t> px(64 * 64, 128);
  std::vector<std::uint8_t> rgb(sut.rgb_bytes());
  sut.render(mono8(px, 64, 64), rgb);
  const auto expected = static_cast<std::uint8_t>(std::lround(255.0 * std::pow(128.0 / 255.0, 2.2)));  // 56
  for (std::size_t i = 0; i < rgb.size(); ++i) ASSERT_EQ(rgb[i], expected) << "byte " << i;
}

TEST(LedRenderer, ColourMapComesOutInRgbOrder) {
  LedColourSettings c = plain_colour();
  c.colormap = display::Colormap::from_name("autumn");  // OpenCV's autumn: 0 is pure red
  LedRenderer sut(small_geometry(), {}, c);
  const std::vector<std::uint8_t> px(64 * 64, 0);
  std::vector<std::uint8_t> rgb(sut.rgb_bytes());
  sut.render(mono8(px, 64, 64), rgb);
  EXPECT_EQ(rgb[0], 255);  // R
  EXPECT_EQ(rgb[1], 0);    // G
  EXPECT_EQ(rgb[2], 0);    // B
}

TEST(LedRenderer, BrightnessCapLimitsTheTotalPowerOfABrightFrame) {
  LedColourSettings c = plain_colour();
  c.brightness_cap = 0.4;
  LedRenderer sut(small_geometry(), {}, c);
  const std::vector<std::uint8_t> white(64 * 64, 255);
  std::vector<std::uint8_t> rgb(sut.rgb_bytes());
  sut.render(mono8(white, 64, 64), rgb);
  double sum = 0;
  for (const std::uint8_t v : rgb) sum += v;
  const double power = sum / (255.0 * static_cast<double>(rgb.size()));
  EXPECT_LE(power, 0.4);
  EXPECT_GT(power, 0.39);
  EXPECT_DOUBLE_EQ(sut.last_power(), power);
}

TEST(LedRenderer, BrightnessCapLeavesAFrameBelowItAlone) {
  LedColourSettings c = plain_colour();
  c.brightness_cap = 0.4;
  LedRenderer sut(small_geometry(), {}, c);
  const std::vector<std::uint8_t> dim(64 * 64, 50);  // 50/255 = 0.2 of full power
  std::vector<std::uint8_t> rgb(sut.rgb_bytes());
  sut.render(mono8(dim, 64, 64), rgb);
  EXPECT_TRUE(std::ranges::all_of(rgb, [](std::uint8_t v) { return v == 50; }));
  EXPECT_DOUBLE_EQ(sut.last_cap_scale(), 1.0);
}

TEST(PolarMap, AnInterleavedRgbImageIsSampledPerChannelAsThreePlanesWouldBe) {
  constexpr std::uint32_t w = 97;
  constexpr std::uint32_t h = 83;
  constexpr std::uint64_t stride = 3 * w + 13;  // padded rows
  std::vector<std::uint8_t> interleaved(stride * h, 0xEE);
  std::vector<std::vector<std::uint8_t>> planes(3, std::vector<std::uint8_t>(std::uint64_t{w} * h));
  for (std::uint32_t y = 0; y < h; ++y) {
    for (std::uint32_t x = 0; x < w; ++x) {
      const std::uint8_t v[3] = {static_cast<std::uint8_t>(2 * x), static_cast<std::uint8_t>(3 * y),
                                 static_cast<std::uint8_t>((x * y) % 251)};
      for (std::uint32_t c = 0; c < 3; ++c) {
        interleaved[y * stride + 3 * x + c] = v[c];
        planes[c][std::uint64_t{y} * w + x] = v[c];
      }
    }
  }
  const PolarMap rgb_map(small_geometry(), w, h, stride);
  std::vector<std::uint8_t> out(3 * small_geometry().led_count());
  rgb_map.sample_interleaved3(interleaved, out);
  const PolarMap plane_map(small_geometry(), w, h, w);
  for (std::uint32_t c = 0; c < 3; ++c) {
    std::vector<std::uint8_t> expected(small_geometry().led_count());
    plane_map.sample<std::uint8_t>(planes[c], expected);
    for (std::size_t i = 0; i < expected.size(); ++i) {
      ASSERT_EQ(out[3 * i + c], expected[i]) << "LED " << i << " channel " << c;
    }
  }
  std::vector<std::uint8_t> short_out(3);
  EXPECT_THROW(rgb_map.sample_interleaved3(interleaved, short_out), ConfigError);
  EXPECT_THROW(rgb_map.sample_interleaved3(std::span(interleaved).first(100), out), ConfigError);
}

TEST(LedRenderer, RgbAndBgrFramesGoToTheLedsAsTheyAreGammaPerChannel) {
  LedColourSettings c = plain_colour();
  c.gamma = 2.2;
  c.contrast.mode = display::ContrastMode::MinMax;  // would make a flat frame black: not applied to colour
  c.colormap = display::Colormap::from_name("autumn");  // nor is the colour map
  LedRenderer sut(small_geometry(), {}, c);
  const auto g = [](double v) { return static_cast<std::uint8_t>(std::lround(255.0 * std::pow(v / 255.0, 2.2))); };
  for (const PixelFormat format : {PixelFormat::RGB8, PixelFormat::BGR8}) {
    std::vector<std::uint8_t> px(64 * 64 * 3);
    for (std::size_t i = 0; i < px.size(); i += 3) {
      px[i] = format == PixelFormat::RGB8 ? 200 : 50;
      px[i + 1] = 100;
      px[i + 2] = format == PixelFormat::RGB8 ? 50 : 200;
    }
    std::vector<std::uint8_t> rgb(sut.rgb_bytes());
    sut.render({std::as_bytes(std::span(px)), 64, 64, 64 * 3, format}, rgb);
    for (std::size_t i = 0; i < rgb.size(); i += 3) {
      ASSERT_EQ(rgb[i], g(200)) << to_string(format) << " LED " << i / 3 << " R";
      ASSERT_EQ(rgb[i + 1], g(100)) << "G";
      ASSERT_EQ(rgb[i + 2], g(50)) << "B";
    }
  }
}

TEST(LedRenderer, BrightnessCapLimitsTheTotalPowerOfABrightColourFrame) {
  LedColourSettings c = plain_colour();
  c.brightness_cap = 0.3;
  LedRenderer sut(small_geometry(), {}, c);
  const std::vector<std::uint8_t> yellow = [] {
    std::vector<std::uint8_t> px(64 * 64 * 3, 0);
    for (std::size_t i = 0; i < px.size(); i += 3) px[i] = px[i + 1] = 255;  // 2/3 of full power
    return px;
  }();
  std::vector<std::uint8_t> rgb(sut.rgb_bytes());
  sut.render({std::as_bytes(std::span(yellow)), 64, 64, 64 * 3, PixelFormat::RGB8}, rgb);
  double sum = 0;
  for (const std::uint8_t v : rgb) sum += v;
  EXPECT_LE(sum / (255.0 * static_cast<double>(rgb.size())), 0.3);
  EXPECT_GT(sum / (255.0 * static_cast<double>(rgb.size())), 0.29);
  EXPECT_EQ(rgb[2], 0) << "blue stays off: the cap scales every channel alike";
  EXPECT_EQ(rgb[0], rgb[1]);
}

TEST(LedRenderer, MinMaxContrastStretchesTheSampledValuesToTheFullRange) {
  LedColourSettings c = plain_colour();
  c.contrast.mode = display::ContrastMode::MinMax;
  LedRenderer sut(small_geometry(), {}, c);
  const auto px = image([](double x, double) { return 1000.0 + 10.0 * x; });
  std::vector<std::uint8_t> rgb(sut.rgb_bytes());
  sut.render({std::as_bytes(std::span(px)), kSide, kSide, kSide * 2, PixelFormat::Mono16}, rgb);
  EXPECT_EQ(*std::ranges::min_element(rgb), 0);
  EXPECT_EQ(*std::ranges::max_element(rgb), 255);
}

TEST(LedRenderer, RejectsAGammaOrCapOutOfRange) {
  LedColourSettings c = plain_colour();
  c.gamma = 0;
  EXPECT_THROW(LedRenderer(small_geometry(), {}, c), ConfigError);
  c = plain_colour();
  c.brightness_cap = 1.5;
  EXPECT_THROW(LedRenderer(small_geometry(), {}, c), ConfigError);
  c.brightness_cap = 0;
  EXPECT_THROW(LedRenderer(small_geometry(), {}, c), ConfigError);
}

// ---- preview ---------------------------------------------------------------------------------

TEST(LedPreview, DrawsEachLedWhereThePolarMapSamplesIt) {
  LedGeometry g = small_geometry();
  g.vane0_angle_deg = 90.0;
  const LedPreview sut(g, 200);
  // Right of the centre, on the row through it, half-way out: vane 0.
  const std::int32_t led = sut.led_at(150, 100);
  ASSERT_GE(led, 0);
  EXPECT_EQ(static_cast<std::uint32_t>(led) / g.leds_per_vane, 0U);
  // r = 50.5 / 100 = 0.505 of the radius: step floor((0.505 - 0.2) / 0.8 * 40) = 15 from the hub.
  EXPECT_EQ(static_cast<std::uint32_t>(led) % g.leds_per_vane, 15U);
  EXPECT_EQ(sut.led_at(100, 100), -1);  // the hub
  EXPECT_EQ(sut.led_at(0, 0), -1);      // outside the disc
  // Colours: LED -> its pixels, in BGR.
  std::vector<std::uint8_t> rgb(g.led_count() * 3, 0);
  rgb[3 * static_cast<std::size_t>(led)] = 200;  // R
  cv::Mat picture;
  sut.draw(rgb, picture);
  const auto px = picture.at<cv::Vec3b>(100, 150);
  EXPECT_EQ(px[2], 200);
  EXPECT_EQ(px[0], 0);
}

}  // namespace
}  // namespace framering::led
