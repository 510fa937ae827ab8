// SnapshotWriter: file names that sort in time order, latest.png as a copy of the newest, and a
// clear start-up error for a directory it cannot write.
#include "framering/display/snapshot_writer.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "framering/common/error.hpp"

namespace framering::display {
namespace {

namespace fs = std::filesystem;

class SnapshotWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("framering-snap-" + std::to_string(::getpid()) + "-" + info->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  [[nodiscard]] std::vector<std::string> files() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

  fs::path dir_;
};

TEST_F(SnapshotWriterTest, NamesSortInSequenceOrderAcrossDigitCounts) {
  std::vector<std::string> names;
  for (std::uint64_t s : {9ULL, 10ULL, 4'294'967'296ULL, 100ULL, 0ULL}) names.push_back(SnapshotWriter::file_name("raw", s));
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());

  EXPECT_EQ(sorted, (std::vector<std::string>{SnapshotWriter::file_name("raw", 0), SnapshotWriter::file_name("raw", 9),
                                              SnapshotWriter::file_name("raw", 10), SnapshotWriter::file_name("raw", 100),
                                              SnapshotWriter::file_name("raw", 4'294'967'296ULL)}));
  EXPECT_EQ(SnapshotWriter::file_name("raw", 42), "raw-00000000000000000042.png");
}

TEST_F(SnapshotWriterTest, CreatesAMissingDirectoryAndWritesThePngAndLatest) {
  SnapshotWriter sut(dir_ / "a" / "b", "processed");
  cv::Mat image(3, 4, CV_8UC1);
  for (int i = 0; i < 12; ++i) image.data[i] = static_cast<std::uint8_t>(i * 20);

  const fs::path written = sut.write(image, 7);

  EXPECT_EQ(written, dir_ / "a" / "b" / "processed-00000000000000000007.png");
  const cv::Mat back = cv::imread(written.string(), cv::IMREAD_UNCHANGED);
  ASSERT_FALSE(back.empty());
  EXPECT_EQ(back.type(), CV_8UC1);
  EXPECT_EQ(cv::norm(back, image, cv::NORM_INF), 0.0);
  const cv::Mat latest = cv::imread((dir_ / "a" / "b" / "latest.png").string(), cv::IMREAD_UNCHANGED);
  ASSERT_FALSE(latest.empty());
  EXPECT_EQ(cv::norm(latest, image, cv::NORM_INF), 0.0);
}

TEST_F(SnapshotWriterTest, LatestIsTheNewestAndNoTemporaryFilesRemain) {
  SnapshotWriter sut(dir_, "raw");
  const cv::Mat first(2, 2, CV_8UC1, cv::Scalar(10));
  const cv::Mat second(2, 2, CV_8UC1, cv::Scalar(200));

  (void)sut.write(first, 1);
  (void)sut.write(second, 2);

  EXPECT_EQ(files(), (std::vector<std::string>{"latest.png", "raw-00000000000000000001.png", "raw-00000000000000000002.png"}));
  const cv::Mat latest = cv::imread((dir_ / "latest.png").string(), cv::IMREAD_UNCHANGED);
  ASSERT_FALSE(latest.empty());
  EXPECT_EQ(latest.at<std::uint8_t>(0, 0), 200);
}

TEST_F(SnapshotWriterTest, SixteenBitImagesBecomeSixteenBitPngs) {
  SnapshotWriter sut(dir_, "raw");
  cv::Mat image(1, 3, CV_16UC1);
  image.at<std::uint16_t>(0, 0) = 0;
  image.at<std::uint16_t>(0, 1) = 4097;
  image.at<std::uint16_t>(0, 2) = 65535;

  const cv::Mat back = cv::imread(sut.write(image, 3).string(), cv::IMREAD_UNCHANGED);

  ASSERT_EQ(back.type(), CV_16UC1);
  EXPECT_EQ(cv::norm(back, image, cv::NORM_INF), 0.0);
}

TEST_F(SnapshotWriterTest, ADirectoryThatIsAFileIsAConfigErrorNamingThePath) {
  fs::create_directories(dir_);
  const fs::path file = dir_ / "not-a-directory";
  std::ofstream(file) << "x";

  try {
    SnapshotWriter sut(file / "shots", "raw");
    FAIL() << "accepted a path under a regular file";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find((file / "shots").string()), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace framering::display
