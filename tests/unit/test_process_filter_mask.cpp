// The Fourier-plane masks: gains at their documented cut-offs, FFTW's half-plane frequency
// layout, and the checks on cut-offs.
#include "framering/process/filter_mask.hpp"

#include <cmath>

#include <gtest/gtest.h>

#include "framering/common/error.hpp"

namespace framering::process {
namespace {

TEST(FilterMaskGain, LowpassIsOneAtZeroAndOneHalfAtItsCutOff) {
  const FilterSpec sut{FilterMode::Lowpass, 0.01, 0.1};

  EXPECT_DOUBLE_EQ(gain(sut, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(gain(sut, 0.1), 0.5);
  EXPECT_DOUBLE_EQ(gain(sut, 0.2), 1.0 / 16);  // 2^-(2^2)
}

TEST(FilterMaskGain, HighpassIsZeroAtZeroAndOneHalfAtItsCutOff) {
  const FilterSpec sut{FilterMode::Highpass, 0.1, 0.3};

  EXPECT_DOUBLE_EQ(gain(sut, 0.0), 0.0);
  EXPECT_DOUBLE_EQ(gain(sut, 0.1), 0.5);
  EXPECT_DOUBLE_EQ(gain(sut, 0.2), 1.0 - 1.0 / 16);
}

TEST(FilterMaskGain, BandpassIsOneHalfAtBothCutOffsAndOneAtTheCentre) {
  const FilterSpec sut{FilterMode::Bandpass, 0.1, 0.3};

  EXPECT_DOUBLE_EQ(gain(sut, 0.1), 0.5);
  EXPECT_DOUBLE_EQ(gain(sut, 0.3), 0.5);
  EXPECT_DOUBLE_EQ(gain(sut, 0.2), 1.0);
  EXPECT_NEAR(gain(sut, 0.0), std::exp2(-4.0), 1e-15);  // the documented leak of the mean: 2^-(fc/hw)^2
}

TEST(FilterMaskGain, BandstopIsOneHalfAtBothCutOffsAndZeroAtTheCentre) {
  const FilterSpec sut{FilterMode::Bandstop, 0.2, 0.3};

  EXPECT_DOUBLE_EQ(gain(sut, 0.2), 0.5);
  EXPECT_DOUBLE_EQ(gain(sut, 0.3), 0.5);
  EXPECT_DOUBLE_EQ(gain(sut, 0.25), 0.0);
  EXPECT_NEAR(gain(sut, 0.0), 1.0, 1e-7);
}

TEST(FilterMaskGain, IdentityIsOneEverywhere) {
  const FilterSpec sut{FilterMode::Identity};

  EXPECT_EQ(gain(sut, 0.0), 1.0);
  EXPECT_EQ(gain(sut, 0.7), 1.0);
}

TEST(RadialFrequency, FollowsFftwHalfPlaneLayout) {
  // 64 x 48: kx = 0..32 are 0..0.5 cycles/pixel; ky = 25..47 are the negative frequencies.
  EXPECT_DOUBLE_EQ(radial_frequency(0, 0, 64, 48), 0.0);
  EXPECT_DOUBLE_EQ(radial_frequency(16, 0, 64, 48), 0.25);
  EXPECT_DOUBLE_EQ(radial_frequency(32, 0, 64, 48), 0.5);
  EXPECT_DOUBLE_EQ(radial_frequency(0, 24, 64, 48), 0.5);
  EXPECT_DOUBLE_EQ(radial_frequency(0, 47, 64, 48), 1.0 / 48);
  EXPECT_DOUBLE_EQ(radial_frequency(0, 36, 64, 48), 0.25);
  EXPECT_DOUBLE_EQ(radial_frequency(32, 24, 64, 48), std::sqrt(0.5));
}

TEST(BuildMask, HasHeightRowsOfHalfWidthPlusOneGainsWithOneHalfOnTheCutOffBin) {
  const FilterSpec spec{FilterMode::Lowpass, 0.01, 0.25};

  const auto sut = build_mask(64, 48, spec);

  ASSERT_EQ(sut.size(), 48U * 33U);
  EXPECT_EQ(sut[0], 1.0F);
  EXPECT_EQ(sut[16], 0.5F);            // [ky=0][kx=16]: fx = 0.25
  EXPECT_EQ(sut[36 * 33 + 0], 0.5F);   // [ky=36][kx=0]: fy = -0.25
  EXPECT_EQ(sut[12 * 33 + 0], 0.5F);   // [ky=12][kx=0]: fy = +0.25
}

TEST(FilterSpec, RejectsBandWhoseLowCutOffIsNotBelowItsHighCutOff) {
  const FilterSpec sut{FilterMode::Bandpass, 0.3, 0.2};

  EXPECT_THROW(sut.validate(), ConfigError);
}

TEST(FilterSpec, RejectsCutOffsOutsideTheFourierPlane) {
  EXPECT_THROW((FilterSpec{FilterMode::Lowpass, 0.02, 0.0}.validate()), ConfigError);
  EXPECT_THROW((FilterSpec{FilterMode::Highpass, -0.1, 0.2}.validate()), ConfigError);
  EXPECT_THROW((FilterSpec{FilterMode::Bandstop, 0.1, 0.8}.validate()), ConfigError);
  EXPECT_NO_THROW((FilterSpec{FilterMode::Lowpass, 5.0, 0.1}.validate()));  // lowpass ignores the low cut-off
}

TEST(FilterMode, NamesRoundTrip) {
  for (auto mode : {FilterMode::Identity, FilterMode::Lowpass, FilterMode::Highpass, FilterMode::Bandpass,
                    FilterMode::Bandstop, FilterMode::LogPower}) {
    EXPECT_EQ(parse_filter_mode(to_string(mode)), mode);
  }
  EXPECT_EQ(parse_filter_mode("LowPass"), std::nullopt);
}

}  // namespace
}  // namespace framering::process
