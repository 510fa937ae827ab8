// FFTW planning: wisdom written after planning and reused on the next start, an unwritable
// wisdom path as a warning, the per-machine default path, and the planner flags.
#include "framering/process/fftw_planner.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <fftw3.h>
#include <gtest/gtest.h>

#include "framering/process/fourier_filter.hpp"

namespace framering::process {
namespace {

namespace fs = std::filesystem;

class FftwPlanner : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("framering-test-" + std::to_string(::getpid()) + "-" + info->name());
    fftwf_forget_wisdom();  // each test starts from an empty in-memory wisdom
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    fftwf_forget_wisdom();
  }

  fs::path dir_;
};

constexpr FrameShape kShape{40, 30, PixelFormat::Mono16};

TEST_F(FftwPlanner, FirstStartPlansAndWritesWisdomIntoNewDirectories) {
  const fs::path wisdom = dir_ / "a" / "b" / "wisdom.dat";

  const FourierFilter sut(kShape, {FilterMode::Lowpass}, {PlannerRigor::Measure, 1, wisdom});

  EXPECT_FALSE(sut.report().wisdom_read);
  EXPECT_FALSE(sut.report().wisdom_used);
  EXPECT_TRUE(sut.report().wisdom_written) << sut.report().wisdom_problem;
  EXPECT_TRUE(fs::is_regular_file(wisdom));
  EXPECT_FALSE(fs::exists(wisdom.string() + ".tmp." + std::to_string(::getpid())));
}

TEST_F(FftwPlanner, SecondStartReadsTheWisdomFileAndPlansNothing) {
  const fs::path wisdom = dir_ / "wisdom.dat";
  { const FourierFilter first(kShape, {FilterMode::Bandpass, 0.1, 0.3}, {PlannerRigor::Measure, 1, wisdom}); }
  fftwf_forget_wisdom();  // as a restarted process: only the file remains

  const FourierFilter sut(kShape, {FilterMode::Bandpass, 0.1, 0.3}, {PlannerRigor::Measure, 1, wisdom});

  EXPECT_TRUE(sut.report().wisdom_read);
  EXPECT_TRUE(sut.report().wisdom_used);
  EXPECT_FALSE(sut.report().wisdom_written);  // nothing new to save
}

TEST_F(FftwPlanner, UnwritableWisdomPathIsReportedNotThrown) {
  const fs::path wisdom = "/proc/framering-cannot-exist/wisdom.dat";

  const FourierFilter sut(kShape, {FilterMode::Identity}, {PlannerRigor::Estimate, 1, wisdom});

  EXPECT_FALSE(sut.report().wisdom_written);
  EXPECT_NE(sut.report().wisdom_problem.find("/proc/framering-cannot-exist"), std::string::npos)
      << sut.report().wisdom_problem;
}

TEST_F(FftwPlanner, ExportReplacesAnExistingFileWhole) {
  const fs::path wisdom = dir_ / "wisdom.dat";
  fs::create_directories(dir_);
  { std::FILE* f = std::fopen(wisdom.c_str(), "w"); ASSERT_NE(f, nullptr); std::fputs("not wisdom", f); std::fclose(f); }
  { const FourierFilter planned(kShape, {FilterMode::Identity}, {PlannerRigor::Measure, 1, std::nullopt}); }

  const auto sut = export_wisdom(wisdom);

  ASSERT_TRUE(sut.has_value()) << sut.error();
  fftwf_forget_wisdom();
  EXPECT_TRUE(import_wisdom(wisdom));
}

TEST_F(FftwPlanner, ImportOfAMissingFileReturnsFalse) {
  EXPECT_FALSE(import_wisdom(dir_ / "missing.dat"));
}

TEST(DefaultWisdomPath, IsUnderXdgCacheHomeAndNamesTheHost) {
  const char* old = std::getenv("XDG_CACHE_HOME");
  const std::string saved = old != nullptr ? old : "";
  ::setenv("XDG_CACHE_HOME", "/tmp/framering-xdg", 1);
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof host - 1), 0);

  const auto sut = default_wisdom_path();

  if (old != nullptr) {
    ::setenv("XDG_CACHE_HOME", saved.c_str(), 1);
  } else {
    ::unsetenv("XDG_CACHE_HOME");
  }
  ASSERT_TRUE(sut.has_value());
  EXPECT_EQ(*sut, fs::path("/tmp/framering-xdg/framering") / ("fftw-wisdom-" + std::string(host) + ".dat"));
}

TEST(PlannerFlags, AreTheRigourAndDestroyInputNeverUnaligned) {
  EXPECT_EQ(planner_flags(PlannerRigor::Estimate), FFTW_ESTIMATE | FFTW_DESTROY_INPUT);
  EXPECT_EQ(planner_flags(PlannerRigor::Measure), FFTW_MEASURE | FFTW_DESTROY_INPUT);
  EXPECT_EQ(planner_flags(PlannerRigor::Patient), FFTW_PATIENT | FFTW_DESTROY_INPUT);
  EXPECT_EQ(planner_flags(PlannerRigor::Patient) & FFTW_UNALIGNED, 0U);
}

TEST(PlannerRigor, NamesRoundTrip) {
  for (auto rigor : {PlannerRigor::Estimate, PlannerRigor::Measure, PlannerRigor::Patient}) {
    EXPECT_EQ(parse_planner_rigor(to_string(rigor)), rigor);
  }
  EXPECT_EQ(parse_planner_rigor("exhaustive"), std::nullopt);
}

TEST(PlannerThreads, ZeroThreadsIsAConfigError) { EXPECT_THROW(set_planner_threads(0), ConfigError); }

TEST(AllocateFftwFloats, IsAlignedForFftwSimd) {
  const auto sut = allocate_fftw_floats(1000);

  EXPECT_EQ(fftwf_alignment_of(sut.get()), 0);
}

}  // namespace
}  // namespace framering::process
