// FftPlans (the two FFT layouts' buffers and plans), time_layouts and make_wisdom: the in-place
// layout's padded rows share memory with the spectrum, wisdom made ahead serves a later
// FourierFilter with a less rigorous planner, an unwritable wisdom path fails before planning.
#include "framering/process/fft_plans.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <fftw3.h>
#include <gtest/gtest.h>

#include "framering/common/error.hpp"
#include "framering/process/fourier_filter.hpp"

namespace framering::process {
namespace {

namespace fs = std::filesystem;

const unsigned kEstimateFlags = planner_flags(PlannerRigor::Estimate);

TEST(FftPlans, InPlaceRowsArePaddedToTwiceHalfWidthPlusOneAndHoldTheSpectrum) {
  for (std::uint32_t width : {64U, 63U}) {
    const FftPlans sut(width, 48, FftLayout::InPlace, kEstimateFlags, true);

    EXPECT_EQ(sut.real_row_floats(), 2 * (width / 2 + 1)) << width;
    EXPECT_EQ(sut.spectrum(), sut.real());
    EXPECT_EQ(sut.spectrum_count(), 48U * (width / 2 + 1));
  }
}

TEST(FftPlans, OutOfPlaceRowsAreUnpaddedInTheirOwnBuffer) {
  const FftPlans sut(63, 48, FftLayout::OutOfPlace, kEstimateFlags, true);

  EXPECT_EQ(sut.real_row_floats(), 63U);
  EXPECT_NE(sut.spectrum(), sut.real());
  EXPECT_EQ(sut.spectrum_count(), 48U * 32U);
}

TEST(FftPlans, EachLayoutTransformsAConstantIntoItsZeroFrequencyOnly) {
  for (FftLayout layout : {FftLayout::InPlace, FftLayout::OutOfPlace}) {
    const FftPlans sut(10, 6, layout, kEstimateFlags, false);
    for (std::uint32_t y = 0; y < 6; ++y) {
      for (std::uint32_t x = 0; x < 10; ++x) sut.real()[y * sut.real_row_floats() + x] = 2.0F;
    }

    sut.forward();

    EXPECT_EQ(sut.spectrum()[0], 120.0F) << to_string(layout);  // 2 * 10 * 6, exact in float
    float others = 0;
    for (std::size_t i = 2; i < 2 * sut.spectrum_count(); ++i) others += std::abs(sut.spectrum()[i]);
    EXPECT_LT(others, 1e-3F) << to_string(layout);
  }
}

TEST(FftPlans, AutoIsNotALayoutToPlan) {
  EXPECT_THROW(FftPlans(64, 48, FftLayout::Auto, kEstimateFlags, true), ConfigError);
}

TEST(FftLayout, NamesRoundTrip) {
  for (auto layout : {FftLayout::Auto, FftLayout::InPlace, FftLayout::OutOfPlace}) {
    EXPECT_EQ(parse_fft_layout(to_string(layout)), layout);
  }
  EXPECT_EQ(parse_fft_layout("inplace"), std::nullopt);
}

TEST(TimeLayouts, NamesTheLayoutWithTheShorterTimeAndClearsBothBuffers) {
  const FftPlans in_place(64, 48, FftLayout::InPlace, kEstimateFlags, true);
  const FftPlans out_of_place(64, 48, FftLayout::OutOfPlace, kEstimateFlags, true);

  const LayoutTiming sut = time_layouts(in_place, out_of_place, 2);

  EXPECT_EQ(sut.rounds, 2);
  EXPECT_EQ(sut.faster, sut.in_place <= sut.out_of_place ? FftLayout::InPlace : FftLayout::OutOfPlace);
  EXPECT_EQ(in_place.real()[0], 0.0F);
  EXPECT_EQ(out_of_place.real()[5], 0.0F);
}

class MakeWisdom : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("framering-test-" + std::to_string(::getpid()) + "-" + info->name());
    fftwf_forget_wisdom();
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    fftwf_forget_wisdom();
  }

  fs::path dir_;
  std::vector<std::string> lines_;
  WisdomProgress progress_ = [this](const std::string& line) { lines_.push_back(line); };
};

TEST_F(MakeWisdom, PatientWisdomServesALaterMeasureFilterInEveryLayout) {
  const fs::path wisdom = dir_ / "cache" / "wisdom.dat";

  make_wisdom(24, 16, PlannerRigor::Patient, 1, wisdom, progress_);
  fftwf_forget_wisdom();  // as the next process: only the file remains

  ASSERT_TRUE(fs::is_regular_file(wisdom));
  for (FftLayout layout : {FftLayout::Auto, FftLayout::InPlace, FftLayout::OutOfPlace}) {
    const FourierFilter sut({24, 16, PixelFormat::Mono16}, {FilterMode::Bandpass, 0.05, 0.2},
                            {PlannerRigor::Measure, 1, wisdom, layout});
    EXPECT_TRUE(sut.report().wisdom_used) << to_string(layout);
    EXPECT_FALSE(sut.report().wisdom_written) << to_string(layout);
  }
}

TEST_F(MakeWisdom, TellsItsProgressBeforeAndAfterEachLayout) {
  make_wisdom(40, 30, PlannerRigor::Measure, 1, dir_ / "wisdom.dat", progress_);

  ASSERT_EQ(lines_.size(), 6U);
  EXPECT_NE(lines_[0].find("40x30"), std::string::npos) << lines_[0];
  EXPECT_NE(lines_[1].find("in-place r2c and c2r"), std::string::npos) << lines_[1];
  EXPECT_NE(lines_[3].find("out-of-place r2c and c2r"), std::string::npos) << lines_[3];
  EXPECT_NE(lines_[5].find("wisdom saved to"), std::string::npos) << lines_[5];
}

TEST_F(MakeWisdom, KeepsTheWisdomTheFileHeldForOtherShapes) {
  const fs::path wisdom = dir_ / "wisdom.dat";
  make_wisdom(40, 30, PlannerRigor::Measure, 1, wisdom, progress_);
  fftwf_forget_wisdom();

  make_wisdom(32, 16, PlannerRigor::Measure, 1, wisdom, progress_);
  fftwf_forget_wisdom();

  const FourierFilter sut({40, 30, PixelFormat::Mono16}, {FilterMode::Lowpass}, {PlannerRigor::Measure, 1, wisdom});
  EXPECT_TRUE(sut.report().wisdom_used);
}

TEST_F(MakeWisdom, UnwritablePathFailsBeforePlanningNamingThePath) {
  const fs::path wisdom = "/proc/framering-cannot-exist/wisdom.dat";

  try {
    make_wisdom(64, 48, PlannerRigor::Patient, 1, wisdom, progress_);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/proc/framering-cannot-exist"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--wisdom"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(lines_.empty());  // nothing was planned
}

}  // namespace
}  // namespace framering::process
