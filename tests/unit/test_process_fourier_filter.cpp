// FourierFilter on small frames with FFTW_ESTIMATE plans: the identity round trip is exact (also
// with two FFTW threads, and in each FFT layout), each mask removes or keeps a sinusoid as
// documented, the two layouts agree, constants through lowpass and highpass, log power
// centred, rounding and clamping, size checks.
#include "framering/process/fourier_filter.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <numbers>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "framering/common/error.hpp"
#include "framering/common/sequence_pattern.hpp"
#include "framering/process/frame_step.hpp"
#include "framering/process/pixel_kernels.hpp"

namespace framering::process {
namespace {

const PlanOptions kEstimate{PlannerRigor::Estimate, 1, std::nullopt};

// A Mono16 frame: height rows of `stride_bytes`.
struct Frame {
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  std::uint64_t stride_bytes = 0;
  std::vector<std::uint16_t> words;  // stride_bytes/2 per row

  Frame(std::uint32_t w, std::uint32_t h, std::uint64_t stride = 0)
      : width(w), height(h), stride_bytes(stride != 0 ? stride : std::uint64_t{w} * 2), words(stride_bytes / 2 * h) {}
  std::uint16_t& at(std::uint32_t x, std::uint32_t y) { return words[y * (stride_bytes / 2) + x]; }
  [[nodiscard]] std::uint16_t at(std::uint32_t x, std::uint32_t y) const { return words[y * (stride_bytes / 2) + x]; }
  std::span<std::byte> bytes() { return std::as_writable_bytes(std::span(words)); }
  [[nodiscard]] std::span<const std::byte> bytes() const { return std::as_bytes(std::span(words)); }
};

Frame filtered(const Frame& input, const FilterSpec& spec) {
  FourierFilter sut({input.width, input.height, PixelFormat::Mono16}, spec, kEstimate);
  Frame output(input.width, input.height);
  const auto done = sut.apply(input.bytes(), input.stride_bytes, output.bytes(), output.stride_bytes);
  EXPECT_TRUE(done.has_value());
  return output;
}

// mean + amplitude * cos(2 pi f x): at f = 0.25 cycles/pixel the values are exact integers.
Frame sinusoid_along_x(std::uint32_t w, std::uint32_t h, double mean, double amplitude, double f) {
  Frame frame(w, h);
  for (std::uint32_t y = 0; y < h; ++y) {
    for (std::uint32_t x = 0; x < w; ++x) {
      frame.at(x, y) = static_cast<std::uint16_t>(std::lround(mean + amplitude * std::cos(2 * std::numbers::pi * f * x)));
    }
  }
  return frame;
}

// Amplitude of the component cos(2 pi f x + phase) in `frame` (f a whole number of cycles
// across the width): 2/N |sum p(x, y) e^(-2 pi i f x)|.
double amplitude_at(const Frame& frame, double f) {
  std::complex<double> sum = 0;
  for (std::uint32_t y = 0; y < frame.height; ++y) {
    for (std::uint32_t x = 0; x < frame.width; ++x) {
      sum += static_cast<double>(frame.at(x, y)) * std::polar(1.0, -2 * std::numbers::pi * f * x);
    }
  }
  return 2.0 * std::abs(sum) / (static_cast<double>(frame.width) * frame.height);
}

double mean_of(const Frame& frame) {
  double sum = 0;
  for (std::uint32_t y = 0; y < frame.height; ++y) {
    for (std::uint32_t x = 0; x < frame.width; ++x) sum += frame.at(x, y);
  }
  return sum / (static_cast<double>(frame.width) * frame.height);
}

Frame pattern(std::uint32_t w, std::uint32_t h, std::uint64_t sequence, std::uint64_t stride = 0) {
  Frame frame(w, h, stride);
  fill_sequence_pattern(frame.bytes(), {w, h, PixelFormat::Mono16, frame.stride_bytes}, sequence);
  return frame;
}

TEST(FourierFilter, IdentityReproducesTheSequencePatternExactly) {
  for (std::uint64_t sequence : {0ULL, 1ULL, 1000ULL, 65'500ULL, (1ULL << 33) + 7}) {
    const Frame input = pattern(64, 48, sequence);

    const Frame output = filtered(input, {FilterMode::Identity});

    EXPECT_EQ(check_sequence_pattern(output.bytes(), {64, 48, PixelFormat::Mono16, 128}, sequence), std::nullopt)
        << "sequence " << sequence;
  }
}

TEST(FourierFilter, IdentityReproducesTheSequencePatternExactlyAt1920x1080) {
  FourierFilter sut({1920, 1080, PixelFormat::Mono16}, {FilterMode::Identity}, kEstimate);
  Frame output(1920, 1080);
  for (std::uint64_t sequence : {0ULL, 60'000ULL, 65'535ULL}) {
    const Frame input = pattern(1920, 1080, sequence);

    ASSERT_TRUE(sut.apply(input.bytes(), input.stride_bytes, output.bytes(), output.stride_bytes).has_value());

    EXPECT_EQ(check_sequence_pattern(output.bytes(), {1920, 1080, PixelFormat::Mono16, 3840}, sequence), std::nullopt)
        << "sequence " << sequence;
  }
}

TEST(FourierFilter, IdentityReproducesFullRangeNoiseExactlyAt1920x1080) {
  // The hardest input for float32: every frequency at full amplitude.
  Frame input(1920, 1080);
  std::mt19937 random(12345);
  std::uniform_int_distribution<int> any(0, 65535);
  for (auto& word : input.words) word = static_cast<std::uint16_t>(any(random));

  const Frame output = filtered(input, {FilterMode::Identity});

  EXPECT_TRUE(output.words == input.words);
}

// With FFTW's own threads (--threads 2): each transform is split across them. The tsan preset
// runs this file (label threads) for how the filter hands frames to FFTW and takes results back.
const PlanOptions kEstimateTwoThreads{PlannerRigor::Estimate, 2, std::nullopt};

TEST(FourierFilter, IdentityWithTwoFftwThreadsReproducesFullRangeNoiseExactlyAt1920x1080) {
  Frame input(1920, 1080);
  std::mt19937 random(2024);
  std::uniform_int_distribution<int> any(0, 65535);
  for (auto& word : input.words) word = static_cast<std::uint16_t>(any(random));
  FourierFilter sut({1920, 1080, PixelFormat::Mono16}, {FilterMode::Identity}, kEstimateTwoThreads);
  Frame output(1920, 1080);

  for (int frame = 0; frame < 3; ++frame) {  // the same threads (FFTW keeps them) frame after frame
    std::ranges::fill(output.words, std::uint16_t{0});

    ASSERT_TRUE(sut.apply(input.bytes(), input.stride_bytes, output.bytes(), output.stride_bytes).has_value());

    EXPECT_TRUE(output.words == input.words) << "frame " << frame;
  }
}

TEST(FourierFilter, BandpassWithTwoFftwThreadsMatchesOneThreadWithinOneCount) {
  Frame input = sinusoid_along_x(512, 256, 30'000, 10'000, 0.25);
  for (std::uint32_t y = 0; y < input.height; ++y) input.at(y % input.width, y) = 65535;  // a diagonal line
  const FilterSpec bandpass{FilterMode::Bandpass, 0.05, 0.3};
  FourierFilter two({512, 256, PixelFormat::Mono16}, bandpass, kEstimateTwoThreads);
  Frame output(512, 256);

  ASSERT_TRUE(two.apply(input.bytes(), input.stride_bytes, output.bytes(), output.stride_bytes).has_value());

  const Frame one_thread = filtered(input, bandpass);
  int largest_difference = 0;
  for (std::size_t i = 0; i < output.words.size(); ++i) {
    largest_difference = std::max(largest_difference, std::abs(int{output.words[i]} - int{one_thread.words[i]}));
  }
  EXPECT_LE(largest_difference, 1) << "float rounding may differ between plans, by one count at most";
}

// The two FFT layouts (fft_plans.hpp), each forced.
PlanOptions estimate_in(FftLayout layout) { return {PlannerRigor::Estimate, 1, std::nullopt, layout}; }

Frame filtered_in(FftLayout layout, const Frame& input, const FilterSpec& spec) {
  FourierFilter sut({input.width, input.height, PixelFormat::Mono16}, spec, estimate_in(layout));
  EXPECT_EQ(sut.report().layout, layout);
  Frame output(input.width, input.height);
  const auto done = sut.apply(input.bytes(), input.stride_bytes, output.bytes(), output.stride_bytes);
  EXPECT_TRUE(done.has_value());
  return output;
}

Frame full_range_noise(std::uint32_t w, std::uint32_t h, unsigned seed) {
  Frame frame(w, h);
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> any(0, 65535);
  for (auto& word : frame.words) word = static_cast<std::uint16_t>(any(random));
  return frame;
}

int largest_difference(const Frame& a, const Frame& b) {
  int largest = 0;
  for (std::size_t i = 0; i < a.words.size(); ++i) largest = std::max(largest, std::abs(int{a.words[i]} - int{b.words[i]}));
  return largest;
}

TEST(FourierFilter, IdentityReproducesFullRangeNoiseExactlyInEachLayout) {
  // Even width (two padding floats per in-place row), odd width (one), and 2 MP.
  for (auto [w, h] : {std::pair{64U, 48U}, std::pair{63U, 47U}, std::pair{1920U, 1080U}}) {
    const Frame input = full_range_noise(w, h, w * 7919U + h);
    for (FftLayout layout : {FftLayout::InPlace, FftLayout::OutOfPlace}) {
      const Frame output = filtered_in(layout, input, {FilterMode::Identity});

      EXPECT_TRUE(output.words == input.words) << w << "x" << h << " " << to_string(layout);
    }
  }
}

TEST(FourierFilter, BandpassInPlaceAndOutOfPlaceAgreeWithinOneCount) {
  // Float rounding: the layouts' plans may use different FFTW algorithms, so a value near a
  // half count may round either way; anything more than one count would be a layout bug
  // (a padding float read as a pixel, a row shifted).
  for (auto [w, h] : {std::pair{128U, 96U}, std::pair{63U, 47U}}) {
    Frame input = sinusoid_along_x(w, h, 30'000, 10'000, 0.25);
    for (std::uint32_t y = 0; y < h; ++y) input.at(y % w, y) = 65535;  // a diagonal line
    input.at(w - 1, h / 2) = 0;                                         // the last column counts too
    const FilterSpec bandpass{FilterMode::Bandpass, 0.05, 0.3, /*output_offset=*/32'768};

    const Frame in_place = filtered_in(FftLayout::InPlace, input, bandpass);
    const Frame out_of_place = filtered_in(FftLayout::OutOfPlace, input, bandpass);

    EXPECT_LE(largest_difference(in_place, out_of_place), 1) << w << "x" << h;
    EXPECT_NEAR(amplitude_at(in_place, 0.25), amplitude_at(out_of_place, 0.25), 0.01) << w << "x" << h;
  }
}

TEST(FourierFilter, BandstopRemovesASinusoidInEachLayout) {
  const Frame input = sinusoid_along_x(128, 96, 30'000, 10'000, 0.25);
  for (FftLayout layout : {FftLayout::InPlace, FftLayout::OutOfPlace}) {
    const Frame output = filtered_in(layout, input, {FilterMode::Bandstop, 0.2, 0.3});

    EXPECT_LT(amplitude_at(output, 0.25), 0.5) << to_string(layout);
    EXPECT_NEAR(mean_of(output), 30'000, 0.01) << to_string(layout);
  }
}

TEST(FourierFilter, LogPowerInPlaceAndOutOfPlaceAgreeWithinOneCount) {
  // In-place, log power overwrites the spectrum it is computed from (fourier_filter.cpp).
  const Frame input = full_range_noise(63, 47, 99);

  const Frame in_place = filtered_in(FftLayout::InPlace, input, {FilterMode::LogPower});
  const Frame out_of_place = filtered_in(FftLayout::OutOfPlace, input, {FilterMode::LogPower});

  EXPECT_LE(largest_difference(in_place, out_of_place), 1);
  EXPECT_EQ(in_place.at(31, 23), 65'535);  // the mean, centred
}

TEST(FourierFilter, SameFilterTwiceInEachLayoutGivesTheSameFrame) {
  // Nothing of the first frame (padding floats, a destroyed input) leaks into the second.
  const Frame first = full_range_noise(63, 47, 1);
  const Frame second = full_range_noise(63, 47, 2);
  for (FftLayout layout : {FftLayout::InPlace, FftLayout::OutOfPlace}) {
    FourierFilter sut({63, 47, PixelFormat::Mono16}, {FilterMode::Lowpass, 0.02, 0.1}, estimate_in(layout));
    Frame once(63, 47);
    Frame after_another(63, 47);
    Frame scratch(63, 47);
    ASSERT_TRUE(sut.apply(second.bytes(), second.stride_bytes, once.bytes(), once.stride_bytes).has_value());

    ASSERT_TRUE(sut.apply(first.bytes(), first.stride_bytes, scratch.bytes(), scratch.stride_bytes).has_value());
    ASSERT_TRUE(sut.apply(second.bytes(), second.stride_bytes, after_another.bytes(), after_another.stride_bytes).has_value());

    EXPECT_TRUE(once.words == after_another.words) << to_string(layout);
  }
}

TEST(FourierFilter, AutoLayoutReportsBothTimingsAndRunsTheFasterOne) {
  const FourierFilter sut({64, 48, PixelFormat::Mono16}, {FilterMode::Lowpass, 0.02, 0.25}, kEstimate);

  ASSERT_TRUE(sut.report().layout_timing.has_value());
  const LayoutTiming& timing = *sut.report().layout_timing;
  EXPECT_GT(timing.in_place.count(), 0);
  EXPECT_GT(timing.out_of_place.count(), 0);
  EXPECT_EQ(sut.report().layout, timing.faster);
  EXPECT_EQ(timing.faster, timing.in_place <= timing.out_of_place ? FftLayout::InPlace : FftLayout::OutOfPlace);
}

TEST(FourierFilter, ForcedLayoutIsRunAndNothingIsTimed) {
  for (FftLayout layout : {FftLayout::InPlace, FftLayout::OutOfPlace}) {
    const FourierFilter sut({64, 48, PixelFormat::Mono16}, {FilterMode::Identity}, estimate_in(layout));

    EXPECT_EQ(sut.report().layout, layout);
    EXPECT_FALSE(sut.report().layout_timing.has_value());
  }
}

TEST(FourierFilter, IdentityKeepsRowPaddingOutOfTheResult) {
  const Frame input = pattern(64, 48, 77, /*stride=*/160);
  FourierFilter sut({64, 48, PixelFormat::Mono16}, {FilterMode::Identity}, kEstimate);
  Frame output(64, 48, /*stride=*/192);
  std::ranges::fill(output.words, std::uint16_t{0xABCD});

  ASSERT_TRUE(sut.apply(input.bytes(), input.stride_bytes, output.bytes(), output.stride_bytes).has_value());

  EXPECT_EQ(check_sequence_pattern(output.bytes(), {64, 48, PixelFormat::Mono16, 192}, 77), std::nullopt);
  EXPECT_EQ(output.words[64], 0xABCD);  // first padding word of row 0, left alone
}

TEST(FourierFilter, IdentityReproducesMono8Exactly) {
  std::vector<std::byte> input(64 * 48);
  std::vector<std::byte> output(64 * 48);
  const FrameShape shape{64, 48, PixelFormat::Mono8, 64};
  fill_sequence_pattern(input, shape, 200);
  FourierFilter sut({64, 48, PixelFormat::Mono8}, {FilterMode::Identity}, kEstimate);

  ASSERT_TRUE(sut.apply(input, 64, output, 64).has_value());

  EXPECT_EQ(check_sequence_pattern(output, shape, 200), std::nullopt);
}

TEST(FourierFilter, LowpassRemovesASinusoidAboveItsCutOffAndKeepsTheMean) {
  const Frame input = sinusoid_along_x(128, 96, 30'000, 10'000, 0.25);
  ASSERT_NEAR(amplitude_at(input, 0.25), 10'000, 1e-6);

  const Frame output = filtered(input, {FilterMode::Lowpass, 0.01, 0.05});

  EXPECT_LT(amplitude_at(output, 0.25), 0.5);  // gain 2^-25 = 3e-8: below one count
  EXPECT_NEAR(mean_of(output), 30'000, 1e-9);
}

TEST(FourierFilter, BandstopAroundASinusoidRemovesIt) {
  const Frame input = sinusoid_along_x(128, 96, 30'000, 10'000, 0.25);

  const Frame output = filtered(input, {FilterMode::Bandstop, 0.2, 0.3});

  EXPECT_LT(amplitude_at(output, 0.25), 0.5);  // gain 0 at the band's centre
  EXPECT_NEAR(mean_of(output), 30'000, 0.01);  // gain 1 - 2^-25 at f = 0
}

TEST(FourierFilter, HighpassBelowASinusoidKeepsItAndRemovesTheMean) {
  const Frame input = sinusoid_along_x(128, 96, 30'000, 10'000, 0.25);

  const Frame output = filtered(input, {FilterMode::Highpass, 0.05, 0.3, /*output_offset=*/32'768});

  EXPECT_NEAR(amplitude_at(output, 0.25), 10'000, 1.0);  // gain 1 - 2^-25
  EXPECT_NEAR(mean_of(output), 32'768, 1e-9);          // the mean removed, the offset added
}

TEST(FourierFilter, BandpassAroundASinusoidKeepsIt) {
  const Frame input = sinusoid_along_x(128, 96, 30'000, 10'000, 0.25);

  const Frame output = filtered(input, {FilterMode::Bandpass, 0.2, 0.3, /*output_offset=*/32'768});

  EXPECT_NEAR(amplitude_at(output, 0.25), 10'000, 1.0);  // gain 1 at the band's centre
  EXPECT_NEAR(mean_of(output), 32'768, 0.01);           // the mean leaks with gain 2^-25
}

TEST(FourierFilter, ConstantFramePassesLowpassUnchanged) {
  Frame input(128, 96);
  std::ranges::fill(input.words, std::uint16_t{12'345});

  const Frame output = filtered(input, {FilterMode::Lowpass, 0.01, 0.1});

  EXPECT_TRUE(output.words == input.words);
}

TEST(FourierFilter, ConstantFrameBecomesZeroThroughHighpass) {
  Frame input(128, 96);
  std::ranges::fill(input.words, std::uint16_t{12'345});

  const Frame output = filtered(input, {FilterMode::Highpass, 0.1, 0.3});

  EXPECT_EQ(*std::ranges::max_element(output.words), 0);
}

TEST(FourierFilter, OutputClampsAtZeroAndAtTheFormatMaximum) {
  Frame input(64, 48);
  std::ranges::fill(input.words, std::uint16_t{100});

  const Frame below = filtered(input, {FilterMode::Identity, 0.02, 0.2, /*output_offset=*/-1000});
  const Frame above = filtered(input, {FilterMode::Identity, 0.02, 0.2, /*output_offset=*/70'000});

  EXPECT_EQ(*std::ranges::max_element(below.words), 0);
  EXPECT_EQ(*std::ranges::min_element(above.words), 65'535);
}

TEST(FloatToPixels, RoundsHalvesUpAndClampsToEachFormatsRange) {
  const std::vector<float> in{-5.0F, 1.49F, 1.5F, 4095.4F, 70'000.0F, std::numeric_limits<float>::quiet_NaN()};
  std::vector<std::uint16_t> mono16(in.size());
  std::vector<std::uint16_t> mono12(in.size());
  std::vector<std::uint8_t> mono8(in.size());

  float_to_pixels(in.data(), 6, 1.0F, 0.0F, PixelFormat::Mono16, 6, 1, reinterpret_cast<std::byte*>(mono16.data()), 12);
  float_to_pixels(in.data(), 6, 1.0F, 0.0F, PixelFormat::Mono12, 6, 1, reinterpret_cast<std::byte*>(mono12.data()), 12);
  float_to_pixels(in.data(), 6, 1.0F, 0.0F, PixelFormat::Mono8, 6, 1, reinterpret_cast<std::byte*>(mono8.data()), 6);

  EXPECT_EQ(mono16, (std::vector<std::uint16_t>{0, 1, 2, 4095, 65'535, 0}));
  EXPECT_EQ(mono12, (std::vector<std::uint16_t>{0, 1, 2, 4095, 4095, 0}));
  EXPECT_EQ(mono8, (std::vector<std::uint8_t>{0, 1, 2, 255, 255, 0}));
}

TEST(FourierFilter, LogPowerOfAConstantFramePutsTheZeroFrequencyAtTheCentre) {
  Frame input(64, 48);
  std::ranges::fill(input.words, std::uint16_t{1000});

  const Frame output = filtered(input, {FilterMode::LogPower});

  EXPECT_EQ(output.at(32, 24), 65'535);  // (width/2, height/2): the only non-zero frequency
  std::uint64_t others = 0;
  for (std::uint32_t y = 0; y < 48; ++y) {
    for (std::uint32_t x = 0; x < 64; ++x) {
      if (x != 32 || y != 24) others += output.at(x, y);
    }
  }
  EXPECT_EQ(others, 0U);
}

TEST(FourierFilter, LogPowerShowsASinusoidAtBothOfItsFrequenciesAroundTheCentre) {
  const Frame input = sinusoid_along_x(64, 48, 30'000, 10'000, 0.25);

  const Frame output = filtered(input, {FilterMode::LogPower});

  // fx = +-0.25 cycles/pixel is +-16 columns from the centre (32, 24); both show the same power
  // (the -0.25 side comes from Hermitian symmetry).
  EXPECT_EQ(output.at(32, 24), 65'535);  // the mean is the strongest
  EXPECT_GT(output.at(16, 24), 50'000);
  EXPECT_EQ(output.at(16, 24), output.at(48, 24));
  EXPECT_EQ(output.at(40, 30), 0);  // elsewhere nothing
}

TEST(FourierFilter, LogPowerOfAnOddSizedFrameCentresTheZeroFrequencyAtHalfTheSizeRoundedDown) {
  Frame input(63, 47);
  std::ranges::fill(input.words, std::uint16_t{1000});

  const Frame output = filtered(input, {FilterMode::LogPower});

  EXPECT_EQ(output.at(31, 23), 65'535);
}

TEST(FourierFilter, ApplyRejectsBuffersSmallerThanItsShape) {
  FourierFilter sut({64, 48, PixelFormat::Mono16}, {FilterMode::Identity}, kEstimate);
  Frame small(64, 47);
  Frame right(64, 48);

  EXPECT_EQ(sut.apply(small.bytes(), 128, right.bytes(), 128).error(), FilterError::InputTooSmall);
  EXPECT_EQ(sut.apply(right.bytes(), 126, right.bytes(), 128).error(), FilterError::InputTooSmall);
  EXPECT_EQ(sut.apply(right.bytes(), 128, small.bytes(), 128).error(), FilterError::OutputTooSmall);
}

TEST(FourierFilter, MaskHasHeightRowsOfHalfWidthPlusOne) {
  const FourierFilter sut({64, 48, PixelFormat::Mono16}, {FilterMode::Lowpass, 0.02, 0.25}, kEstimate);

  ASSERT_EQ(sut.mask().size(), 48U * 33U);
  EXPECT_EQ(sut.mask()[16], 0.5F);
}

TEST(FourierFilter, ZeroSizedShapeIsAConfigError) {
  EXPECT_THROW(FourierFilter({0, 48, PixelFormat::Mono16}, {FilterMode::Identity}, kEstimate), ConfigError);
}

}  // namespace
}  // namespace framering::process

// ---- colour (process::FrameStep) ---------------------------------------------------------------

namespace framering::process {
namespace {

// Issue 12: a low-pass on an RGB8 frame is the same low-pass on each channel as a Mono8 plane.
TEST(FrameStep, AColourFrameIsFilteredChannelByChannelAsThreeMonoPlanesWouldBe) {
  constexpr std::uint32_t w = 48;
  constexpr std::uint32_t h = 36;
  constexpr std::uint64_t stride = 3 * w + 16;
  const FrameShape rgb{w, h, PixelFormat::RGB8, stride};
  std::vector<std::byte> input(stride * h);
  std::mt19937 random(7);
  for (auto& b : input) b = static_cast<std::byte>(random() & 0xFF);
  const FilterSpec lowpass{FilterMode::Lowpass, 0.0, 0.15, 0.0};
  FrameStep sut = FrameStep::filter(rgb, lowpass, kEstimate);
  EXPECT_EQ(sut.output_shape().pixel_format, PixelFormat::RGB8);
  std::vector<std::byte> output(stride * h);
  ASSERT_TRUE(sut.load(input, stride));
  sut.transform();
  ASSERT_TRUE(sut.store(output, stride));
  for (std::uint32_t c = 0; c < 3; ++c) {
    std::vector<std::byte> plane(std::size_t{w} * h);
    for (std::uint32_t y = 0; y < h; ++y) {
      for (std::uint32_t x = 0; x < w; ++x) plane[y * w + x] = input[y * stride + 3 * x + c];
    }
    FourierFilter mono({w, h, PixelFormat::Mono8, w}, lowpass, kEstimate);
    std::vector<std::byte> filtered(plane.size());
    ASSERT_TRUE(mono.apply(plane, w, filtered, w).has_value());
    for (std::uint32_t y = 0; y < h; ++y) {
      for (std::uint32_t x = 0; x < w; ++x) {
        ASSERT_EQ(output[y * stride + 3 * x + c], filtered[y * w + x]) << "x " << x << " y " << y << " channel " << c;
      }
    }
  }
  EXPECT_FALSE(sut.load(std::span(input).first(100), stride)) << "too small for the shape";
}

TEST(FrameStep, ABayerMosaicIsDemosaicedNeverFilteredAndOnlyAMosaicIsDemosaiced) {
  const FrameShape bayer{16, 8, PixelFormat::BayerGR8, 16};
  EXPECT_THROW((void)FrameStep::filter(bayer, {FilterMode::Identity, 0, 0, 0}, kEstimate), ConfigError);
  EXPECT_THROW((void)FrameStep::demosaic({16, 8, PixelFormat::Mono8, 16}), ConfigError);
  EXPECT_THROW((void)FrameStep::demosaic({1, 8, PixelFormat::BayerRG8, 1}), ConfigError);
  FrameStep sut = FrameStep::demosaic(bayer);
  EXPECT_EQ(sut.output_shape().pixel_format, PixelFormat::RGB8);
  EXPECT_EQ(sut.fourier_report(), nullptr);
  // A uniform grey scene: every filter passes 90, so every demosaiced pixel is (90, 90, 90).
  std::vector<std::byte> mosaic(16 * 8, std::byte{90});
  std::vector<std::byte> rgb(16 * 3 * 8);
  ASSERT_TRUE(sut.load(mosaic, 16));
  sut.transform();
  ASSERT_TRUE(sut.store(rgb, 16 * 3));
  EXPECT_TRUE(std::ranges::all_of(rgb, [](std::byte b) { return b == std::byte{90}; }));
}

}  // namespace
}  // namespace framering::process
