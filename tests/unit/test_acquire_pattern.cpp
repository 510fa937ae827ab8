// The pattern source's scenes: deterministic for a seed and sequence, shaped as documented
// (spots where spots_at() says, rings that expand, a grating with the requested period), and
// the testpattern scene exactly fill_sequence_pattern().
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "framering/acquire/pattern_source.hpp"
#include "framering/acquire/scenes.hpp"
#include "framering/common/error.hpp"
#include "framering/common/sequence_pattern.hpp"

namespace framering::acquire {
namespace {

// A frame in ordinary memory, with optional row padding (filled with a marker byte).
struct Frame {
  Frame(std::uint32_t width, std::uint32_t height, PixelFormat format, std::uint64_t padding_bytes = 0)
      : shape{width, height, format, std::uint64_t{width} * bytes_per_pixel(format) + padding_bytes},
        bytes(shape.stride_bytes * height, std::byte{0xA5}) {}

  [[nodiscard]] std::span<std::byte> pixels() { return bytes; }
  [[nodiscard]] std::uint32_t at(std::uint32_t x, std::uint32_t y) const {
    const std::byte* p = bytes.data() + std::uint64_t{y} * shape.stride_bytes;
    if (bytes_per_pixel(shape.pixel_format) == 1) return static_cast<std::uint32_t>(p[x]);
    std::uint16_t v = 0;
    std::memcpy(&v, p + 2ULL * x, 2);
    return v;
  }

  FrameShape shape;
  std::vector<std::byte> bytes;
};

TEST(MicroscopyScene, RendersTheSameFrameForTheSameSeedAndSequence) {
  MicroscopyScene sut(320, 240, 7);
  MicroscopyScene again(320, 240, 7);
  Frame a(320, 240, PixelFormat::Mono16);
  Frame b(320, 240, PixelFormat::Mono16);

  sut.render(a.pixels(), a.shape, 123);
  again.render(b.pixels(), b.shape, 123);

  EXPECT_EQ(a.bytes, b.bytes);
}

TEST(MicroscopyScene, RendersDifferentFramesForAnotherSeedOrSequence) {
  MicroscopyScene sut(320, 240, 7);
  MicroscopyScene other_seed(320, 240, 8);
  Frame a(320, 240, PixelFormat::Mono16);
  Frame b(320, 240, PixelFormat::Mono16);
  Frame c(320, 240, PixelFormat::Mono16);

  sut.render(a.pixels(), a.shape, 123);
  other_seed.render(b.pixels(), b.shape, 123);
  sut.render(c.pixels(), c.shape, 124);

  EXPECT_NE(a.bytes, b.bytes);
  EXPECT_NE(a.bytes, c.bytes);
}

TEST(MicroscopyScene, BrightensEverySpotCentreFarAboveTheBackground) {
  constexpr std::uint32_t kWidth = 640;
  constexpr std::uint32_t kHeight = 480;
  MicroscopyScene sut(kWidth, kHeight, 3);
  Frame frame(kWidth, kHeight, PixelFormat::Mono16);
  constexpr std::uint64_t kSequence = 500;

  sut.render(frame.pixels(), frame.shape, kSequence);
  const std::vector<Spot> spots = sut.spots_at(kSequence);

  ASSERT_EQ(spots.size(), kWidth * kHeight / 10000);
  const double background = MicroscopyScene::kOffsetCounts + sut.background_photons();
  for (const Spot& spot : spots) {
    const auto x = static_cast<std::uint32_t>(std::lround(spot.x)) % kWidth;
    const auto y = static_cast<std::uint32_t>(std::lround(spot.y)) % kHeight;
    // The nearest pixel centre is at most 0.71 px from the spot's: it gets >= 80% of the peak
    // (sigma >= 1.2 px), less 5 standard deviations of shot noise.
    const double expected_at_least = background + 0.8 * spot.peak_photons - 5.0 * std::sqrt(spot.peak_photons);
    EXPECT_GE(frame.at(x, y), expected_at_least) << "spot at (" << spot.x << ", " << spot.y << ")";
  }
}

TEST(MicroscopyScene, HasPoissonBackgroundMeanAndVarianceFarFromEverySpot) {
  constexpr std::uint32_t kWidth = 640;
  constexpr std::uint32_t kHeight = 480;
  MicroscopyScene sut(kWidth, kHeight, 5, /*spot_count=*/4, /*background_photons=*/50.0);
  Frame frame(kWidth, kHeight, PixelFormat::Mono16);

  sut.render(frame.pixels(), frame.shape, 42);
  const std::vector<Spot> spots = sut.spots_at(42);
  double sum = 0;
  double sum_sq = 0;
  double n = 0;
  for (std::uint32_t y = 0; y < kHeight; ++y) {
    for (std::uint32_t x = 0; x < kWidth; ++x) {
      const bool near_spot = std::ranges::any_of(spots, [&](const Spot& s) {
        return std::hypot(x - s.x, y - s.y) < 10.0 * s.sigma_px;
      });
      if (near_spot) continue;
      const double v = frame.at(x, y);
      sum += v;
      sum_sq += v * v;
      n += 1;
    }
  }
  const double mean = sum / n;
  const double variance = sum_sq / n - mean * mean;

  // ~300,000 samples: the mean is known to +-0.05 counts, the variance to about +-1%.
  EXPECT_NEAR(mean, MicroscopyScene::kOffsetCounts + 50.0, 0.2);
  EXPECT_NEAR(variance, 50.0, 2.0);
}

TEST(MicroscopyScene, MovesItsSpotsBetweenSequences) {
  MicroscopyScene sut(640, 480, 3);

  const std::vector<Spot> before = sut.spots_at(100);
  const std::vector<Spot> after = sut.spots_at(130);

  ASSERT_EQ(before.size(), after.size());
  for (std::size_t i = 0; i < before.size(); ++i) {
    EXPECT_GT(std::hypot(after[i].x - before[i].x, after[i].y - before[i].y), 0.1) << "spot " << i;
  }
}

TEST(MicroscopyScene, KeepsMono12ValuesWithinTwelveBitsAndMono8AtItsDepth) {
  MicroscopyScene sut(320, 240, 9);
  Frame mono12(320, 240, PixelFormat::Mono12);
  Frame mono16(320, 240, PixelFormat::Mono16);
  Frame mono8(320, 240, PixelFormat::Mono8);

  sut.render(mono12.pixels(), mono12.shape, 10);
  sut.render(mono16.pixels(), mono16.shape, 10);
  sut.render(mono8.pixels(), mono8.shape, 10);

  std::uint32_t max12 = 0;
  std::uint32_t max16 = 0;
  std::uint32_t max8 = 0;
  for (std::uint32_t y = 0; y < 240; ++y) {
    for (std::uint32_t x = 0; x < 320; ++x) {
      max12 = std::max(max12, mono12.at(x, y));
      max16 = std::max(max16, mono16.at(x, y));
      max8 = std::max(max8, mono8.at(x, y));
    }
  }
  EXPECT_LE(max12, 4095U);
  EXPECT_NEAR(max12, max16 / 16, 40);  // the brightest spot, at the 12-bit scale (own noise draws)
  EXPECT_NEAR(max8, max16 / 256, 3);
}

TEST(MicroscopyScene, RendersBrightSpotsWithinEachRowsPaddingNeverWritten) {
  MicroscopyScene sut(100, 80, 11, 20);
  Frame frame(100, 80, PixelFormat::Mono16, /*padding_bytes=*/56);

  sut.render(frame.pixels(), frame.shape, 77);

  for (std::uint32_t y = 0; y < 80; ++y) {
    for (std::uint64_t b = 200; b < frame.shape.stride_bytes; ++b) {
      ASSERT_EQ(frame.bytes[y * frame.shape.stride_bytes + b], std::byte{0xA5}) << "row " << y << " byte " << b;
    }
  }
}

// The first ring listed for each droplet is its lead (outermost, brightest) ring.
std::vector<DropletRing> lead_rings(const std::vector<DropletRing>& rings) {
  std::vector<DropletRing> leads;
  for (const DropletRing& r : rings) {
    if (leads.empty() || leads.back().droplet != r.droplet) leads.push_back(r);
  }
  return leads;
}

TEST(DropletScene, ExpandsAndFadesEveryDropletsLeadRingOverTime) {
  DropletScene sut(640, 480, 2);

  const std::vector<DropletRing> early = lead_rings(sut.rings_at(60));
  const std::vector<DropletRing> later = lead_rings(sut.rings_at(66));

  std::size_t compared = 0;
  for (const DropletRing& before : early) {
    const auto after = std::ranges::find_if(later, [&](const DropletRing& r) { return r.droplet == before.droplet; });
    if (after == later.end()) continue;  // it faded out in between
    EXPECT_GT(after->radius_px, before.radius_px) << "droplet " << before.droplet;
    EXPECT_LT(after->amplitude, before.amplitude) << "droplet " << before.droplet;
    EXPECT_EQ(after->x, before.x);
    EXPECT_EQ(after->y, before.y);
    ++compared;
  }
  EXPECT_GE(compared, 5U);
}

TEST(DropletScene, StartsWithOneSmallRingOfTheFirstDroplet) {
  DropletScene sut(640, 480, 2);

  const std::vector<DropletRing> first = sut.rings_at(0);

  ASSERT_EQ(first.size(), 1U);
  EXPECT_EQ(first[0].droplet, 0U);
  EXPECT_GT(first[0].radius_px, 0.0);
  EXPECT_LT(first[0].radius_px, 10.0);
}

TEST(DropletScene, GivesTheSameDropletTheSameCentreAndALargerRadiusLater) {
  DropletScene sut(640, 480, 2);

  const std::vector<DropletRing> a = sut.rings_at(30);
  const std::vector<DropletRing> b = sut.rings_at(40);

  // Droplet 5 lands at sequence 30.
  const auto find = [](const std::vector<DropletRing>& rings, std::uint64_t droplet) {
    return std::ranges::find_if(rings, [&](const DropletRing& r) { return r.droplet == droplet; });
  };
  const auto lead_30 = find(a, 5);
  const auto lead_40 = find(b, 5);
  ASSERT_NE(lead_30, a.end());
  ASSERT_NE(lead_40, b.end());
  const DropletRing at_30 = *lead_30;
  const DropletRing at_40 = *lead_40;
  EXPECT_EQ(at_30.x, at_40.x);
  EXPECT_EQ(at_30.y, at_40.y);
  EXPECT_GT(at_40.radius_px, at_30.radius_px);
  EXPECT_LT(at_40.amplitude, at_30.amplitude);
}

TEST(DropletScene, DrawsEachLeadCrestAboveTheBackground) {
  constexpr std::uint32_t kWidth = 640;
  constexpr std::uint32_t kHeight = 480;
  DropletScene sut(kWidth, kHeight, 4);
  Frame frame(kWidth, kHeight, PixelFormat::Mono16);
  constexpr std::uint64_t kSequence = 200;

  sut.render(frame.pixels(), frame.shape, kSequence);

  std::size_t checked = 0;
  for (const DropletRing& ring : sut.rings_at(kSequence)) {
    const double x = ring.x + ring.radius_px;  // the crest to the right of the centre
    if (x < 0 || x > kWidth - 1 || ring.amplitude < 2000) continue;
    const auto px = static_cast<std::uint32_t>(std::lround(x));
    const auto py = static_cast<std::uint32_t>(std::lround(ring.y));
    if (py >= kHeight) continue;
    // Within half a pixel of the crest: at least 1 - (0.71 / half_width)^2 of the amplitude.
    const double expected = DropletScene::kBackgroundCounts + ring.amplitude * 0.6;
    EXPECT_GE(frame.at(px, py), expected) << "droplet " << ring.droplet << " radius " << ring.radius_px;
    ++checked;
  }
  EXPECT_GE(checked, 3U);
}

TEST(DropletScene, RendersTheSameFrameForTheSameSeedAndSequence) {
  DropletScene sut(320, 240, 9);
  DropletScene again(320, 240, 9);
  Frame a(320, 240, PixelFormat::Mono16);
  Frame b(320, 240, PixelFormat::Mono16);

  sut.render(a.pixels(), a.shape, 1000);
  again.render(b.pixels(), b.shape, 1000);

  EXPECT_EQ(a.bytes, b.bytes);
}

TEST(GratingScene, RepeatsWithTheRequestedPeriodAlongX) {
  GratingScene sut(400, 8, /*cycles_per_pixel=*/0.05, /*angle_deg=*/0.0, /*amplitude_counts=*/16000);
  Frame frame(400, 8, PixelFormat::Mono16);

  sut.render(frame.pixels(), frame.shape);

  for (std::uint32_t y = 0; y < 8; ++y) {
    for (std::uint32_t x = 0; x + 20 < 400; ++x) {
      ASSERT_NEAR(frame.at(x + 20, y), frame.at(x, y), 1) << "x " << x << " y " << y;
      ASSERT_EQ(frame.at(x, y), frame.at(x, 0)) << "angle 0 varies along x only";
    }
  }
  EXPECT_NEAR(frame.at(5, 0), 32768 + 16000, 1);   // a quarter period in: the crest
  EXPECT_NEAR(frame.at(15, 0), 32768 - 16000, 1);  // three quarters: the trough
  EXPECT_NEAR(frame.at(10, 0), 32768, 1);
}

TEST(GratingScene, PutsAllItsEnergyAtTheRequestedFrequency) {
  constexpr std::uint32_t kWidth = 400;
  GratingScene sut(kWidth, 1, 0.05, 0.0, 16000);
  Frame frame(kWidth, 1, PixelFormat::Mono16);
  sut.render(frame.pixels(), frame.shape);

  // |DFT| of the row at bin k (frequency k / width cycles/pixel), mean removed.
  const auto magnitude = [&](int k) {
    double re = 0;
    double im = 0;
    for (std::uint32_t x = 0; x < kWidth; ++x) {
      const double v = frame.at(x, 0) - GratingScene::kMeanCounts;
      re += v * std::cos(2 * M_PI * k * x / kWidth);
      im -= v * std::sin(2 * M_PI * k * x / kWidth);
    }
    return std::hypot(re, im);
  };
  const double peak = magnitude(20);  // 0.05 * 400

  EXPECT_NEAR(peak, 16000.0 * kWidth / 2, 16000.0 * kWidth / 2 * 1e-3);
  for (int k : {1, 10, 19, 21, 40, 100}) EXPECT_LT(magnitude(k), peak * 1e-3) << "bin " << k;
}

TEST(GratingScene, VariesAlongYWhenTurnedNinetyDegrees) {
  GratingScene sut(16, 100, 0.05, 90.0, 16000);
  Frame frame(16, 100, PixelFormat::Mono16);

  sut.render(frame.pixels(), frame.shape);

  EXPECT_NEAR(frame.at(3, 5), 32768 + 16000, 1);
  EXPECT_NEAR(frame.at(9, 5), 32768 + 16000, 1);
  EXPECT_NEAR(frame.at(3, 15), 32768 - 16000, 1);
}

TEST(GratingScene, RejectsAFrequencyAboveNyquistOrAnAmplitudeThatWouldClip) {
  EXPECT_THROW(GratingScene(64, 64, 0.6, 0.0, 16000), ConfigError);
  EXPECT_THROW(GratingScene(64, 64, 0.0, 0.0, 16000), ConfigError);
  EXPECT_THROW(GratingScene(64, 64, 0.05, 0.0, 40000), ConfigError);
}

TEST(PatternSource, WritesExactlyTheTestPatternOfTheRingSequenceIntoAPaddedSlot) {
  PatternSource sut({.width = 64, .height = 48, .pixel_format = PixelFormat::Mono16, .scene = Scene::TestPattern});
  Frame frame(64, 48, PixelFormat::Mono16, /*padding_bytes=*/64);
  constexpr std::uint64_t kSequence = (1ULL << 32U) + 12345;  // past 2^32

  ASSERT_TRUE(sut.grab().has_value());
  sut.write(frame.pixels(), frame.shape, kSequence);

  EXPECT_EQ(check_sequence_pattern(frame.bytes, frame.shape, kSequence), std::nullopt);
  EXPECT_EQ(frame.bytes[frame.shape.stride_bytes - 1], std::byte{0xA5}) << "row padding left as it was";
}

TEST(PatternSource, NumbersItsFramesFromZeroAsCameraFrameIds) {
  PatternSource sut({.width = 16, .height = 16, .scene = Scene::Grating});

  const auto first = sut.grab();
  const auto second = sut.grab();
  const auto third = sut.grab();

  ASSERT_TRUE(first && second && third);
  EXPECT_EQ(first->camera_frame_id, 0U);
  EXPECT_EQ(second->camera_frame_id, 1U);
  EXPECT_EQ(third->camera_frame_id, 2U);
  EXPECT_GT(first->timestamp_ns, 0U);
  EXPECT_LE(first->timestamp_ns, third->timestamp_ns);
}

TEST(PatternSource, ReportsTheShapeItWasAskedFor) {
  PatternSource sut({.width = 100, .height = 50, .pixel_format = PixelFormat::Mono8, .scene = Scene::Droplets});

  const FrameShape shape = sut.shape();

  EXPECT_EQ(shape.width, 100U);
  EXPECT_EQ(shape.height, 50U);
  EXPECT_EQ(shape.stride_bytes, 100U);
  EXPECT_EQ(shape.pixel_format, PixelFormat::Mono8);
}

TEST(Scene, ParsesEveryNameItPrints) {
  for (const Scene scene : {Scene::Microscopy, Scene::Droplets, Scene::TestPattern, Scene::Grating}) {
    EXPECT_EQ(parse_scene(to_string(scene)), scene);
  }
  EXPECT_EQ(parse_scene("Microscopy"), std::nullopt);
}

}  // namespace
}  // namespace framering::acquire
