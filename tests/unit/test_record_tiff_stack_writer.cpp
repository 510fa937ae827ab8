// record/: the hand-laid TIFF files read back by libtiff (the reader the team trusts), the
// recording's tally of gaps, its index, rotation, resume repair, and inspect on damaged files
// (with what the fuzzer found: fuzz/fuzz_record_recording.cpp).
#include <tiffio.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <gtest/gtest.h>

#include "framering/common/error.hpp"
#include "framering/common/sequence_pattern.hpp"
#include "framering/record/inspect_command.hpp"
#include "framering/record/recording.hpp"
#include "framering/record/tiff_stack_writer.hpp"
#include "test_support.hpp"

namespace framering::record {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "framering-record-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// A 4096-aligned buffer holding one frame of the sequence pattern with rows `stride` bytes apart,
// padded like a ring slot.
struct Frame {
  std::byte* data = nullptr;
  std::uint64_t stride = 0;
  std::uint64_t bytes = 0;
  Frame(const FrameShape& shape, std::uint64_t sequence) {
    stride = shape.stride_bytes;
    bytes = (stride * shape.height + 4095) / 4096 * 4096;
    data = static_cast<std::byte*>(std::aligned_alloc(4096, bytes));
    std::memset(data, 0xAB, bytes);
    fill_sequence_pattern({data, stride * shape.height}, shape, sequence);
  }
  ~Frame() { std::free(data); }
  Frame(const Frame&) = delete;
  Frame& operator=(const Frame&) = delete;
};

// Every page of `path` read with libtiff, checked against the pattern of `first + page`.
std::uint64_t check_with_libtiff(const fs::path& path, const PageGeometry& g, std::uint64_t first) {
  TIFF* t = TIFFOpen(path.c_str(), "r");
  EXPECT_NE(t, nullptr) << path;
  if (t == nullptr) return 0;
  std::uint64_t pages = 0;
  const std::uint64_t row_bytes = g.frame.packed_row_bytes();
  std::vector<std::byte> strip(g.frame_bytes());
  do {
    std::uint32_t width = 0, height = 0;
    std::uint16_t bits = 0, format = 0;
    EXPECT_EQ(TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &width), 1);
    EXPECT_EQ(TIFFGetField(t, TIFFTAG_IMAGELENGTH, &height), 1);
    EXPECT_EQ(TIFFGetField(t, TIFFTAG_BITSPERSAMPLE, &bits), 1);
    EXPECT_EQ(TIFFGetField(t, TIFFTAG_SAMPLEFORMAT, &format), 1);
    EXPECT_EQ(width, g.frame.width);
    EXPECT_EQ(height, g.frame.height);
    EXPECT_EQ(bits, g.bits_per_sample());
    EXPECT_EQ(format, SAMPLEFORMAT_UINT);
    std::uint16_t samples = 0, photometric = 0;
    EXPECT_EQ(TIFFGetField(t, TIFFTAG_SAMPLESPERPIXEL, &samples), 1);
    EXPECT_EQ(TIFFGetField(t, TIFFTAG_PHOTOMETRIC, &photometric), 1);
    EXPECT_EQ(samples, g.samples_per_pixel());
    EXPECT_EQ(photometric, g.samples_per_pixel() == 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
    EXPECT_EQ(TIFFReadEncodedStrip(t, 0, strip.data(), static_cast<tmsize_t>(strip.size())),
              static_cast<tmsize_t>(strip.size()));
    const FrameShape packed{g.frame.width, g.frame.height, g.frame.pixel_format, row_bytes};
    EXPECT_FALSE(check_sequence_pattern(strip, packed, first + pages).has_value()) << "page " << pages;
    ++pages;
  } while (TIFFReadDirectory(t) == 1);
  TIFFClose(t);
  return pages;
}

std::uint64_t write_pages(const fs::path& path, const PageGeometry& g, std::uint64_t stride, std::uint64_t count) {
  TiffStackWriter sut(path, g, true);
  for (std::uint64_t k = 0; k < count; ++k) {
    Frame f({g.frame.width, g.frame.height, g.frame.pixel_format, stride}, k);
    EXPECT_TRUE(sut.append(f.data, f.stride, f.bytes).has_value()) << "page " << k;
  }
  EXPECT_TRUE(sut.close().has_value());
  return sut.pages();
}

TEST(TiffStackWriter, ClassicMono16PagesReadBackBitExactWithLibtiff) {
  TempDir dir;
  const PageGeometry g{{64, 48, PixelFormat::Mono16}, false};
  ASSERT_EQ(write_pages(dir.path() / "a.tif", g, 128, 5), 5U);
  EXPECT_EQ(check_with_libtiff(dir.path() / "a.tif", g, 0), 5U);
  EXPECT_EQ(fs::file_size(dir.path() / "a.tif"), 5 * g.page_bytes());
}

TEST(TiffStackWriter, BigTiffMono8WithOddWidthReadsBackBitExact) {
  TempDir dir;
  const PageGeometry g{{37, 11, PixelFormat::Mono8}, true};
  ASSERT_EQ(write_pages(dir.path() / "b.tif", g, 37, 3), 3U);
  EXPECT_EQ(check_with_libtiff(dir.path() / "b.tif", g, 0), 3U);
}

TEST(TiffStackWriter, Rgb8PagesAreRgbWithThreeSamplesBitExactInClassicAndBigTiff) {
  TempDir dir;
  for (const bool bigtiff : {false, true}) {  // classic: the three BitsPerSample values sit after the IFD
    const PageGeometry g{{37, 11, PixelFormat::RGB8}, bigtiff};
    const fs::path path = dir.path() / (bigtiff ? "rgb-big.tif" : "rgb.tif");
    ASSERT_EQ(write_pages(path, g, 37 * 3 + 5, 3), 3U);  // padded rows too
    EXPECT_EQ(check_with_libtiff(path, g, 0), 3U) << path;
  }
}

TEST(TiffStackWriter, BayerPagesCarryTheTiffEpColourFilterArrayTags) {
  TempDir dir;
  const PageGeometry g{{16, 8, PixelFormat::BayerBG8}, false};
  ASSERT_EQ(write_pages(dir.path() / "bayer.tif", g, 16, 2), 2U);
  EXPECT_EQ(check_with_libtiff(dir.path() / "bayer.tif", g, 0), 2U);
  // The two extra entries, read from page 1's IFD as bytes: CFARepeatPatternDim 2, 2 and
  // CFAPattern B G / G R = 2 1 1 0, after the 15 baseline entries.
  std::ifstream in(dir.path() / "bayer.tif", std::ios::binary);
  std::vector<char> block(kIfdBlockBytes);
  in.seekg(static_cast<std::streamoff>(g.page_bytes() + kIfdOffsetInBlock));
  in.read(block.data(), static_cast<std::streamsize>(block.size() - kIfdOffsetInBlock));
  const auto u16 = [&](std::size_t at) {
    std::uint16_t v = 0;
    std::memcpy(&v, block.data() + at, 2);
    return v;
  };
  ASSERT_EQ(u16(0), 17U) << "entries";
  const std::size_t dim = 2 + 15 * 12;
  EXPECT_EQ(u16(dim), 33421U);
  EXPECT_EQ(u16(dim + 8), 2U);
  EXPECT_EQ(u16(dim + 10), 2U);
  const std::size_t pattern = dim + 12;
  EXPECT_EQ(u16(pattern), 33422U);
  EXPECT_EQ(std::vector<char>(block.begin() + static_cast<std::ptrdiff_t>(pattern + 8),
                              block.begin() + static_cast<std::ptrdiff_t>(pattern + 12)),
            (std::vector<char>{2, 1, 1, 0}));
}

TEST(TiffStackWriter, PaddedRowsArePackedIntoTheFile) {
  TempDir dir;
  const PageGeometry g{{30, 7, PixelFormat::Mono16}, false};
  ASSERT_EQ(write_pages(dir.path() / "c.tif", g, 64 * 2, 4), 4U);  // stride 128 B > 60 B of pixels
  EXPECT_EQ(check_with_libtiff(dir.path() / "c.tif", g, 0), 4U);
}

TEST(TiffStackWriter, HeaderAndFirstIfdAreClassicLittleEndian) {
  alignas(4096) std::array<std::byte, kIfdBlockBytes> block{};
  const PageGeometry g{{1920, 1080, PixelFormat::Mono16}, false};
  encode_ifd_block(block, g, 0, 0);
  EXPECT_EQ(std::memcmp(block.data(), "II*\0\x10\0\0\0", 8), 0);
  std::uint16_t entries = 0;
  std::memcpy(&entries, block.data() + kIfdOffsetInBlock, 2);
  EXPECT_EQ(entries, 15);
  // StripOffsets (7th entry, tag 273) points just past the IFD block.
  std::uint16_t tag = 0;
  std::uint32_t value = 0;
  std::memcpy(&tag, block.data() + kIfdOffsetInBlock + 2 + 6 * 12, 2);
  std::memcpy(&value, block.data() + kIfdOffsetInBlock + 2 + 6 * 12 + 8, 4);
  EXPECT_EQ(tag, 273);
  EXPECT_EQ(value, kIfdBlockBytes);
}

TEST(TiffStackWriter, PagesStayPageAlignedAndAClassicFileHoldsAtMost1034FullHdFrames) {
  TempDir dir;
  const PageGeometry g{{1920, 1080, PixelFormat::Mono16}, false};
  EXPECT_EQ(g.page_bytes(), 4096U + 1013U * 4096U);  // 4147200 pixel bytes padded to whole pages
  TiffStackWriter sut(dir.path() / "d.tif", g, false);
  EXPECT_TRUE(sut.fits_another_page(0));
  EXPECT_TRUE(sut.fits_another_page(g.page_bytes()));  // the first page always goes, whatever the limit
  EXPECT_EQ(kClassicTiffMaxBytes / g.page_bytes(), 1034U);
}

struct CutCase {
  PageGeometry geometry;
  std::uint64_t written = 0;
  std::uint64_t kept = 0;
};

class CutTiffStackTo : public ::testing::TestWithParam<CutCase> {};

TEST_P(CutTiffStackTo, ItsFirstPagesWhichReadBackWithLibtiff) {
  const CutCase c = GetParam();
  TempDir dir;
  const fs::path path = dir.path() / "a.tif";
  const std::uint64_t row_bytes = c.geometry.frame.packed_row_bytes();
  ASSERT_EQ(write_pages(path, c.geometry, row_bytes, c.written), c.written);

  const auto cut = cut_tiff_stack(path, c.geometry, c.kept);

  ASSERT_TRUE(cut.has_value()) << cut.error().what;
  EXPECT_EQ(fs::file_size(path), c.kept * c.geometry.page_bytes());
  EXPECT_EQ(check_with_libtiff(path, c.geometry, 0), c.kept);
}

INSTANTIATE_TEST_SUITE_P(ClassicAndBigTiff, CutTiffStackTo,
                         ::testing::Values(CutCase{{{64, 48, PixelFormat::Mono16}, false}, 4, 2},
                                           CutCase{{{37, 11, PixelFormat::Mono8}, true}, 3, 1}));

TEST(CutTiffStack, MissingFileIsAFailureSayingItCouldNotOpenIt) {
  TempDir dir;
  const PageGeometry g{{64, 48, PixelFormat::Mono16}, false};

  const auto cut = cut_tiff_stack(dir.path() / "none.tif", g, 1);

  ASSERT_FALSE(cut.has_value());
  EXPECT_EQ(cut.error().error, ENOENT);
  EXPECT_EQ(cut.error().what, "opening");
}

TEST(RecordingTally, HolesInTheSequenceAreEvictedGapsAndSourceDropsAreReportedButComplete) {
  RecordingTally sut(10);
  EXPECT_TRUE(sut.add({1, 0, 10, 0, 100, 0}));
  EXPECT_TRUE(sut.add({1, 1, 11, 0, 103, 2}));  // camera frames 101 and 102 never arrived
  EXPECT_TRUE(sut.complete());
  EXPECT_TRUE(sut.add({1, 2, 15, 0, 107, 0}));  // sequences 12..14 evicted
  EXPECT_FALSE(sut.add({2, 0, 15, 0, 107, 0}));  // re-read after a restart: not counted
  nlohmann::json j;
  sut.to_json(j);
  EXPECT_EQ(j["frames_recorded"], 3);
  EXPECT_EQ(j["frames_published"], 6);
  EXPECT_EQ(j["frames_lost"], 3);
  EXPECT_EQ(j["source_frames_lost"], 2);
  EXPECT_EQ(j["complete"], false);
  ASSERT_EQ(j["gaps"].size(), 2U);
  EXPECT_EQ(j["gaps"][0]["cause"], "source_drop");
  EXPECT_EQ(j["gaps"][0]["first"], 101);
  EXPECT_EQ(j["gaps"][0]["last"], 102);
  EXPECT_EQ(j["gaps"][0]["camera_frame_id_before"], 100);
  EXPECT_EQ(j["gaps"][0]["ids_known"], true);
  EXPECT_EQ(j["gaps"][0]["range"], nlohmann::json({101, 102}));
  EXPECT_EQ(j["gaps"][1]["cause"], "evicted");
  EXPECT_EQ(j["gaps"][1]["first"], 12);
  EXPECT_EQ(j["gaps"][1]["last"], 14);
  EXPECT_EQ(j["gaps"][1]["range"], nlohmann::json({12, 14}));
}

TEST(RecordingTally, ASourceDropAcrossACameraOutageHasACountAndTimestampsButNoInventedIds) {
  RecordingTally sut(0);
  EXPECT_TRUE(sut.add({1, 0, 0, 1'000'000'000, 65271, 0}));
  // The camera restarted: its ids begin again at 1; acquire sized the loss from the timestamps.
  EXPECT_TRUE(sut.add({1, 1, 1, 10'500'000'000, 1, 284}));
  nlohmann::json j;
  sut.to_json(j);
  ASSERT_EQ(j["gaps"].size(), 1U);
  const auto& gap = j["gaps"][0];
  EXPECT_EQ(gap["cause"], "source_drop");
  EXPECT_EQ(gap["count"], 284);
  EXPECT_EQ(gap["ids_known"], false);
  EXPECT_TRUE(gap["range"].is_null()) << gap.dump();
  EXPECT_TRUE(gap["first"].is_null()) << gap.dump();
  EXPECT_EQ(gap["camera_frame_id_before"], 65271);
  EXPECT_EQ(gap["camera_frame_id_after"], 1);
  EXPECT_EQ(gap["timestamp_ns_before"], 1'000'000'000);
  EXPECT_EQ(gap["timestamp_ns_after"], 10'500'000'000);
  EXPECT_EQ(j["source_frames_lost"], 284);
  EXPECT_EQ(j["complete"], true) << "a source's loss is reported, not a hole in the recording";
}

TEST(RecordingTally, ASourceDropAcrossThe16BitIdWrapNamesTheWrappedIds) {
  RecordingTally sut(0);
  EXPECT_TRUE(sut.add({1, 0, 0, 0, 65534, 0}));
  EXPECT_TRUE(sut.add({1, 1, 1, 0, 2, 2}));  // 65535 and 1 lost (0 is never a 16-bit block id)
  ASSERT_EQ(sut.gaps().size(), 1U);
  EXPECT_TRUE(sut.gaps()[0].ids_known);
  EXPECT_EQ(sut.gaps()[0].first, 65535U);
  EXPECT_EQ(sut.gaps()[0].last, 1U);
}

TEST(RecordingTally, ASourceDropOnTheFirstRecordedFrameHasNoIdsToCheckAgainst) {
  RecordingTally sut(0);
  EXPECT_TRUE(sut.add({1, 0, 0, 0, 10, 3}));
  ASSERT_EQ(sut.gaps().size(), 1U);
  EXPECT_FALSE(sut.gaps()[0].ids_known);
  EXPECT_EQ(sut.gaps()[0].count, 3U);
}

TEST(RecordingTally, AGapBeforeTheFirstRecordedFrameCounts) {
  RecordingTally sut(0);
  EXPECT_TRUE(sut.add({1, 0, 5, 0, 5, 0}));
  EXPECT_EQ(sut.ring_lost(), 5U);
  ASSERT_EQ(sut.gaps().size(), 1U);
  EXPECT_EQ(sut.gaps()[0].first, 0U);
  EXPECT_EQ(sut.gaps()[0].last, 4U);
}

TEST(RecordIndex, BadLinesAreReportedNotFatal) {
  TempDir dir;
  {
    std::ofstream out(dir.path() / "index.csv");
    out << kIndexHeader << "\n1,0,0,5,6,0\n1,1,x,5,6,0\n# a note\n1,1,1,7,8,0";
  }
  const IndexFile sut = read_index(dir.path() / "index.csv");
  ASSERT_EQ(sut.rows.size(), 2U);
  EXPECT_EQ(sut.rows[1].sequence, 1U);
  EXPECT_EQ(sut.rows[1].camera_frame_id, 8U);
  ASSERT_EQ(sut.problems.size(), 1U);
  EXPECT_NE(sut.problems[0].find("line 3"), std::string::npos) << sut.problems[0];
  EXPECT_EQ(sut.comments.size(), 1U);
  EXPECT_FALSE(sut.ends_with_newline);
}

TEST(RecordIndex, SettingsGenerationsAreReadBackAndSixColumnRowsOfOlderRecordingsAreGenerationZero) {
  TempDir dir;
  {
    std::ofstream out(dir.path() / "index.csv");
    out << kIndexHeader << "\n" << format_index_row({1, 0, 0, 5, 6, 0, 7}) << "1,1,1,7,8,0,4294967296\n";
    std::ofstream old(dir.path() / "old.csv");
    old << kIndexHeaderV1 << "\n1,0,0,5,6,0\n";
  }
  const IndexFile sut = read_index(dir.path() / "index.csv");
  ASSERT_EQ(sut.rows.size(), 1U);
  EXPECT_EQ(sut.rows[0].settings_generation, 7U);
  ASSERT_EQ(sut.problems.size(), 1U) << "a generation beyond 32 bits is a bad line";
  const IndexFile old = read_index(dir.path() / "old.csv");
  ASSERT_EQ(old.rows.size(), 1U);
  EXPECT_TRUE(old.problems.empty()) << old.problems[0];
  EXPECT_EQ(old.rows[0].settings_generation, 0U);
}

class RecordingFolder : public ::testing::Test {
 protected:
  // Records `count` frames (sequences start..start+count-1) with two frames per part.
  fs::path record(std::uint64_t start, std::uint64_t count, std::uint64_t skip_from = UINT64_MAX, std::uint64_t skipped = 0) {
    RecordingSettings s;
    s.dest = dir_.path();
    s.name = "rec";
    s.geometry = g_;
    s.max_file_frames = 2;
    Recording sut(s, {"inst", "raw", "record", 42}, start);
    std::uint64_t seq = start;
    for (std::uint64_t k = 0; k < count; ++k, ++seq) {
      if (seq == skip_from) seq += skipped;
      Frame f({g_.frame.width, g_.frame.height, g_.frame.pixel_format, g_.frame.width * 2ULL}, seq);
      auto r = sut.append({0, 0, seq, 1000 + seq, seq, 0}, f.data, f.stride, f.bytes);
      EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
    }
    manifest_ = sut.close({{"reason", "frames"}});
    return sut.folder();
  }

  TempDir dir_;
  PageGeometry g_{{16, 8, PixelFormat::Mono16}, false};
  nlohmann::json manifest_;
};

TEST_F(RecordingFolder, RotatesPartsAndInspectFindsItCompleteAndConsistent) {
  const fs::path folder = record(0, 5);
  EXPECT_TRUE(fs::exists(folder / "part-000003.tif"));
  EXPECT_FALSE(fs::exists(folder / "part-000004.tif"));
  EXPECT_EQ(manifest_["frames_recorded"], 5);
  EXPECT_EQ(manifest_["complete"], true);
  EXPECT_EQ(manifest_["files"].size(), 3U);
  EXPECT_EQ(check_with_libtiff(folder / "part-000002.tif", g_, 2), 2U);

  const nlohmann::json report = inspect_recording(folder);

  EXPECT_EQ(report["consistent"], true) << report.dump(2);
  EXPECT_EQ(report["complete"], true);
  EXPECT_EQ(report["pages"], 5);
  EXPECT_EQ(report["last_sequence"], 4);
}

TEST_F(RecordingFolder, InspectReportsAnEvictedGapFromTheIndex) {
  const fs::path folder = record(0, 6, 3, 4);  // 0 1 2 7 8 9

  const nlohmann::json report = inspect_recording(folder);

  EXPECT_EQ(report["consistent"], true) << report.dump(2);
  EXPECT_EQ(report["complete"], false);
  ASSERT_EQ(report["gaps"].size(), 1U);
  EXPECT_EQ(report["gaps"][0]["first"], 3);
  EXPECT_EQ(report["gaps"][0]["last"], 6);
  EXPECT_EQ(report["gaps"][0]["cause"], "evicted");
}

TEST_F(RecordingFolder, InspectOfATruncatedPartReportsTheTruncationWithoutCrashing) {
  const fs::path folder = record(0, 4);
  fs::resize_file(folder / "part-000002.tif", g_.page_bytes() + 100);  // page 1 of that part cut in its IFD block

  const nlohmann::json report = inspect_recording(folder);

  EXPECT_EQ(report["consistent"], false);
  EXPECT_EQ(report["pages"], 3);
  const std::string problems = report["problems"].dump();
  EXPECT_NE(problems.find("part-000002.tif: 1 readable pages but 2 index rows"), std::string::npos) << problems;
}

TEST_F(RecordingFolder, InspectOfPixelsCutShortSaysTheFileIsTruncated) {
  const fs::path folder = record(0, 2);
  fs::resize_file(folder / "part-000001.tif", 2 * g_.page_bytes() - 4096 + 10);

  const nlohmann::json report = inspect_recording(folder);

  EXPECT_EQ(report["consistent"], false);
  const std::string problems = report["problems"].dump();
  EXPECT_NE(problems.find("the file is truncated"), std::string::npos) << problems;
}

TEST_F(RecordingFolder, InspectWithoutTheIndexSaysSoAndStillCountsPages) {
  const fs::path folder = record(0, 3);
  fs::remove(folder / "index.csv");

  const nlohmann::json report = inspect_recording(folder);

  EXPECT_EQ(report["consistent"], false);
  EXPECT_EQ(report["pages"], 3);
  EXPECT_TRUE(report["complete"].is_null());
  EXPECT_NE(report["problems"].dump().find("no index.csv"), std::string::npos) << report.dump(2);
}

TEST_F(RecordingFolder, InspectNeverCallsAnUnclosedRecordingComplete) {
  const fs::path folder = record(0, 3);
  fs::remove(folder / "manifest.json");  // as if its recorder was killed, or given up

  const nlohmann::json report = inspect_recording(folder);

  EXPECT_EQ(report["consistent"], true) << report.dump(2);
  EXPECT_EQ(report["frames_recorded"], 3);
  EXPECT_EQ(report["complete"], false);
  EXPECT_NE(report["incomplete_because"].get<std::string>().find("not closed"), std::string::npos);
}

TEST_F(RecordingFolder, ARecordingThatStoppedOnAnErrorIsNeverComplete) {
  RecordingSettings s;
  s.dest = dir_.path();
  s.name = "error";
  s.geometry = g_;
  Recording sut(s, {"inst", "raw", "record", 42}, 0);
  Frame f({g_.frame.width, g_.frame.height, g_.frame.pixel_format, g_.frame.width * 2ULL}, 0);
  ASSERT_TRUE(sut.append({0, 0, 0, 0, 0, 0}, f.data, f.stride, f.bytes).has_value());

  const nlohmann::json manifest = sut.close({{"reason", "error"}, {"message", "No space left on device"}});

  EXPECT_EQ(manifest["complete"], false);
  const nlohmann::json report = inspect_recording(sut.folder());
  EXPECT_EQ(report["complete"], false);
  EXPECT_EQ(report["incomplete_because"], "it stopped on an error");
}

TEST_F(RecordingFolder, ResumeCutsAPageThatWasLinkedButNotIndexedAndContinuesInANewPart) {
  RecordingSettings s;
  s.dest = dir_.path();
  s.name = "crash";
  s.geometry = g_;
  {
    Recording first(s, {"inst", "raw", "record", 42}, 0);
    for (std::uint64_t seq = 0; seq < 3; ++seq) {
      Frame f({g_.frame.width, g_.frame.height, g_.frame.pixel_format, g_.frame.width * 2ULL}, seq);
      ASSERT_TRUE(first.append({0, 0, seq, 0, seq, 0}, f.data, f.stride, f.bytes).has_value());
    }
    fs::path folder = first.folder();
    // A crash after page 2 was linked but before its index row: drop the row, keep the page.
    std::ifstream in(folder / "index.csv");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    text.erase(text.rfind("1,2,"));
    std::ofstream(folder / "index.csv", std::ios::trunc) << text;
    first.close({{"reason", "test"}});
    fs::remove(folder / "manifest.json");  // as if killed: no manifest
  }
  Recording sut(s, {"inst", "raw", "record", 42}, 0);
  ASSERT_TRUE(sut.resumed());
  EXPECT_EQ(sut.tally().next_sequence(), 2U);
  EXPECT_EQ(fs::file_size(sut.folder() / "part-000001.tif"), 2 * g_.page_bytes());
  for (std::uint64_t seq = 2; seq < 4; ++seq) {
    Frame f({g_.frame.width, g_.frame.height, g_.frame.pixel_format, g_.frame.width * 2ULL}, seq);
    ASSERT_TRUE(sut.append({0, 0, seq, 0, seq, 0}, f.data, f.stride, f.bytes).has_value());
  }
  const nlohmann::json manifest = sut.close({{"reason", "frames"}});
  EXPECT_EQ(manifest["frames_recorded"], 4);
  EXPECT_EQ(manifest["complete"], true);
  EXPECT_EQ(manifest["sessions"], 2);
  EXPECT_EQ(check_with_libtiff(sut.folder() / "part-000001.tif", g_, 0), 2U);
  EXPECT_EQ(check_with_libtiff(sut.folder() / "part-000002.tif", g_, 2), 2U);
  EXPECT_EQ(inspect_recording(sut.folder())["consistent"], true);
}

// --- Two pages in flight (submit/complete): a page is linked only once its data write has
// returned, a frame indexed only once its page is linked; a failed data write links nothing.

// A DataWriteGate that holds page `page`'s data write until release(), or fails it with `error`.
class GatedWrite {
 public:
  explicit GatedWrite(std::uint64_t page, int error = 0) : page_(page), error_(error) {}

  [[nodiscard]] DataWriteGate gate() {
    return [this](std::uint64_t page) {
      if (page != page_) return 0;
      std::unique_lock lock(mutex_);
      entered_ = true;
      changed_.notify_all();
      if (error_ != 0) return error_;
      changed_.wait(lock, [&] { return released_; });
      return 0;
    };
  }
  /// Waits until the I/O thread is inside the gate for `page` (CTest's timeout and the watchdog bound it).
  void wait_until_held() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return entered_; });
  }
  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    changed_.notify_all();
  }

 private:
  std::uint64_t page_;
  int error_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool entered_ = false;
  bool released_ = false;
};

// Lets a held write go when the test ends early, before the writer (declared earlier) closes.
struct ReleaseAtExit {
  GatedWrite& gate;
  ~ReleaseAtExit() { gate.release(); }
};

// The next-IFD field of page `page` of a classic file, as it is on disk now.
std::uint32_t next_ifd_on_disk(const fs::path& path, const PageGeometry& g, std::uint64_t page) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(page * g.page_bytes() + kIfdOffsetInBlock + 2 + 15 * 12));
  std::uint32_t value = 0xFFFFFFFF;
  in.read(reinterpret_cast<char*>(&value), sizeof value);
  return in ? value : 0xFFFFFFFF;
}

std::vector<std::uint64_t> indexed_sequences(const fs::path& folder) {
  std::vector<std::uint64_t> sequences;
  for (const IndexRow& row : read_index(folder / kIndexFile).rows) sequences.push_back(row.sequence);
  return sequences;
}

const PageGeometry kSmall{{64, 48, PixelFormat::Mono16}, false};

Frame small_frame(std::uint64_t sequence) { return Frame({64, 48, PixelFormat::Mono16, 128}, sequence); }

TEST(TiffStackWriter, APageIsNotLinkedWhileItsDataWriteIsInFlight) {
  test::Watchdog watchdog(std::chrono::seconds{20});
  TempDir dir;
  const fs::path path = dir.path() / "p.tif";
  GatedWrite held(1);
  TiffStackWriter sut(path, kSmall, true, StagingPolicy::HugePagesWhenAvailable, held.gate());
  ReleaseAtExit release_at_exit{held};
  Frame f0 = small_frame(0), f1 = small_frame(1);
  ASSERT_TRUE(sut.append(f0.data, f0.stride, f0.bytes).has_value());

  ASSERT_TRUE(sut.submit(f1.data, f1.stride, f1.bytes).has_value());
  held.wait_until_held();

  EXPECT_EQ(next_ifd_on_disk(path, kSmall, 0), 0U) << "page 0 points at page 1 before page 1 is written";
  EXPECT_EQ(sut.pages(), 1U);
  EXPECT_EQ(sut.in_flight(), 1U);
  EXPECT_EQ(check_with_libtiff(path, kSmall, 0), 1U);
  held.release();
  ASSERT_TRUE(sut.complete().has_value());
  EXPECT_EQ(next_ifd_on_disk(path, kSmall, 0), kSmall.page_bytes() + kIfdOffsetInBlock);
  EXPECT_EQ(sut.pages(), 2U);
  ASSERT_TRUE(sut.close().has_value());
  EXPECT_EQ(check_with_libtiff(path, kSmall, 0), 2U);
}

TEST(TiffStackWriter, AFailedDataWriteLinksNothingCutsTheFileBackAndAbandonsThePageBehindIt) {
  test::Watchdog watchdog(std::chrono::seconds{20});
  TempDir dir;
  const fs::path path = dir.path() / "f.tif";
  GatedWrite failing(1, EIO);
  TiffStackWriter sut(path, kSmall, true, StagingPolicy::HugePagesWhenAvailable, failing.gate());
  Frame f0 = small_frame(0), f1 = small_frame(1), f2 = small_frame(2);
  ASSERT_TRUE(sut.append(f0.data, f0.stride, f0.bytes).has_value());
  ASSERT_TRUE(sut.submit(f1.data, f1.stride, f1.bytes).has_value());
  ASSERT_TRUE(sut.submit(f2.data, f2.stride, f2.bytes).has_value());

  const auto completed = sut.complete();

  ASSERT_FALSE(completed.has_value());
  EXPECT_EQ(completed.error().error, EIO);
  EXPECT_EQ(completed.error().what, "writing page 1");
  EXPECT_EQ(sut.in_flight(), 0U);
  EXPECT_EQ(next_ifd_on_disk(path, kSmall, 0), 0U);
  EXPECT_EQ(fs::file_size(path), kSmall.page_bytes());
  EXPECT_FALSE(sut.submit(f2.data, f2.stride, f2.bytes).has_value());
  EXPECT_EQ(check_with_libtiff(path, kSmall, 0), 1U);
}

TEST(TiffStackWriter, StagedAndInPlaceWritesGiveTheSameFile) {
  TempDir dir;
  const PageGeometry g{{256, 8, PixelFormat::Mono16}, false};  // packed rows, one whole page (and one libtiff strip)
  std::string bytes[2];
  for (const StagingPolicy staging : {StagingPolicy::HugePagesWhenAvailable, StagingPolicy::InPlace}) {
    const fs::path path = dir.path() / (staging == StagingPolicy::InPlace ? "in_place.tif" : "staged.tif");
    TiffStackWriter sut(path, g, true, staging);
    for (std::uint64_t k = 0; k < 3; ++k) {
      Frame f({256, 8, PixelFormat::Mono16, 512}, k);
      ASSERT_TRUE(sut.submit(f.data, f.stride, f.bytes).has_value());
      ASSERT_TRUE(sut.complete().has_value());
    }
    if (staging == StagingPolicy::InPlace) {
      EXPECT_FALSE(sut.stages_in_huge_pages());
    }
    ASSERT_TRUE(sut.close().has_value());
    EXPECT_EQ(check_with_libtiff(path, g, 0), 3U);
    std::ifstream in(path, std::ios::binary);
    bytes[staging == StagingPolicy::InPlace ? 1 : 0].assign(std::istreambuf_iterator<char>(in), {});
  }
  EXPECT_EQ(bytes[0], bytes[1]);
}

class RecordingInFlight : public ::testing::Test {
 protected:
  RecordingSettings settings(DataWriteGate gate, std::uint64_t max_file_frames = 0) {
    RecordingSettings s;
    s.dest = dir_.path();
    s.name = "rec";
    s.geometry = kSmall;
    s.max_file_frames = max_file_frames;
    s.data_write_gate = std::move(gate);
    return s;
  }
  TempDir dir_;
};

TEST_F(RecordingInFlight, AFrameGetsItsIndexRowOnlyAfterItsPageIsWrittenAndLinked) {
  test::Watchdog watchdog(std::chrono::seconds{20});
  GatedWrite held(1);
  Recording sut(settings(held.gate()), {"inst", "raw", "record", 42}, 0);
  ReleaseAtExit release_at_exit{held};
  Frame f0 = small_frame(0), f1 = small_frame(1);
  ASSERT_EQ(sut.submit({0, 0, 0, 0, 0, 0}, f0.data, f0.stride, f0.bytes), AppendOutcome::InFlight);
  ASSERT_EQ(sut.submit({0, 0, 1, 0, 1, 0}, f1.data, f1.stride, f1.bytes), AppendOutcome::InFlight);
  ASSERT_TRUE(sut.complete().has_value());  // frame 0: page 0, whole
  held.wait_until_held();

  EXPECT_EQ(indexed_sequences(sut.folder()), std::vector<std::uint64_t>{0});
  EXPECT_EQ(next_ifd_on_disk(sut.folder() / "part-000001.tif", kSmall, 0), 0U);
  EXPECT_EQ(sut.in_flight(), 1U);
  held.release();
  ASSERT_TRUE(sut.complete().has_value());
  EXPECT_EQ(indexed_sequences(sut.folder()), (std::vector<std::uint64_t>{0, 1}));
  EXPECT_EQ(sut.close({{"reason", "frames"}})["complete"], true);
  EXPECT_EQ(check_with_libtiff(sut.folder() / "part-000001.tif", kSmall, 0), 2U);
}

TEST_F(RecordingInFlight, AFailedDataWriteLeavesNoIndexRowAndNoLink) {
  GatedWrite failing(1, ENOSPC);
  Recording sut(settings(failing.gate()), {"inst", "raw", "record", 42}, 0);
  Frame f0 = small_frame(0), f1 = small_frame(1);
  ASSERT_EQ(sut.submit({0, 0, 0, 0, 0, 0}, f0.data, f0.stride, f0.bytes), AppendOutcome::InFlight);
  ASSERT_EQ(sut.submit({0, 0, 1, 0, 1, 0}, f1.data, f1.stride, f1.bytes), AppendOutcome::InFlight);
  ASSERT_TRUE(sut.complete().has_value());

  const auto completed = sut.complete();

  ASSERT_FALSE(completed.has_value());
  EXPECT_EQ(completed.error().error, ENOSPC);
  EXPECT_NE(completed.error().message.find("writing page 1"), std::string::npos) << completed.error().message;
  EXPECT_EQ(sut.in_flight(), 0U);
  EXPECT_EQ(indexed_sequences(sut.folder()), std::vector<std::uint64_t>{0});
  const fs::path part = sut.folder() / "part-000001.tif";
  EXPECT_EQ(next_ifd_on_disk(part, kSmall, 0), 0U);
  EXPECT_EQ(fs::file_size(part), kSmall.page_bytes());
}

TEST_F(RecordingInFlight, ANewPartStartsOnlyAfterEveryFrameInFlightInTheOldOneIsIndexed) {
  Recording sut(settings({}, 1), {"inst", "raw", "record", 42}, 0);
  Frame f0 = small_frame(0), f1 = small_frame(1);
  ASSERT_EQ(sut.submit({0, 0, 0, 0, 0, 0}, f0.data, f0.stride, f0.bytes), AppendOutcome::InFlight);

  ASSERT_EQ(sut.submit({0, 0, 1, 0, 1, 0}, f1.data, f1.stride, f1.bytes), AppendOutcome::InFlight);

  EXPECT_EQ(sut.in_flight(), 1U);  // frame 0 was completed before part 2 was created
  EXPECT_EQ(indexed_sequences(sut.folder()), std::vector<std::uint64_t>{0});
  EXPECT_EQ(check_with_libtiff(sut.folder() / "part-000001.tif", kSmall, 0), 1U);
  ASSERT_TRUE(sut.complete().has_value());
  EXPECT_EQ(indexed_sequences(sut.folder()), (std::vector<std::uint64_t>{0, 1}));
  EXPECT_EQ(sut.close({{"reason", "frames"}})["files"].size(), 2U);
}

TEST_F(RecordingInFlight, AFrameAtOrBeforeTheLastSubmittedIsADuplicateNotWritten) {
  Recording sut(settings({}), {"inst", "raw", "record", 42}, 0);
  Frame f5 = small_frame(5);
  ASSERT_EQ(sut.submit({0, 0, 5, 0, 5, 0}, f5.data, f5.stride, f5.bytes), AppendOutcome::InFlight);

  EXPECT_EQ(sut.submit({0, 0, 5, 0, 5, 0}, f5.data, f5.stride, f5.bytes), AppendOutcome::Duplicate);
  EXPECT_EQ(sut.submit({0, 0, 4, 0, 4, 0}, f5.data, f5.stride, f5.bytes), AppendOutcome::Duplicate);
  EXPECT_EQ(sut.in_flight(), 1U);
}

TEST(Recording, ANameThatLeavesTheDestinationIsRefusedNamingIt) {
  TempDir dir;
  RecordingSettings s;
  s.dest = dir.path();
  s.name = "../escape";
  s.geometry = {16, 8, PixelFormat::Mono16, false};
  try {
    Recording sut(s, {"inst", "raw", "record", 1}, 0);
    FAIL() << "accepted a recording name with a path in it";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--recording '../escape' is not a valid recording name"), std::string::npos)
        << e.what();
  }
}

// What fuzz/fuzz_record_recording found. Its input is a flags byte, then the files of a recording
// folder; each test writes the files that input made, byte for byte, and names the input.

void write_text(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// `framering inspect PATH [--json]` as main() runs it: the exit code and what it printed.
std::pair<int, std::string> run_inspect(const fs::path& folder, bool json) {
  CLI::App app{"framering"};
  std::function<int()> action;
  add_inspect_subcommand(app, action);
  std::vector<std::string> argv = {folder.string()};
  if (json) argv.emplace_back("--json");
  argv.emplace_back("inspect");
  app.parse(argv);  // CLI11 consumes the vector from its back
  testing::internal::CaptureStdout();
  int code = -1;
  try {
    code = action();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "inspect threw " << e.what();
  }
  return {code, testing::internal::GetCapturedStdout()};
}

// Input FF FF: recording.json is the byte 0xFF, inspected with --json. The "not valid JSON"
// problem quotes that byte, and printing the report threw nlohmann's type_error 316 (invalid
// UTF-8) out of the command.
TEST(InspectCommand, JsonReportOfAProblemQuotingBytesThatAreNotUtf8IsPrintedWithReplacements) {
  TempDir dir;
  write_text(dir.path() / "recording.json", "\xFF");

  const auto [code, out] = run_inspect(dir.path(), true);

  EXPECT_EQ(code, 2);
  EXPECT_NE(out.find("recording.json is not valid JSON"), std::string::npos) << out;
  EXPECT_NE(out.find("\xEF\xBF\xBD"), std::string::npos) << "0xFF printed as U+FFFD: " << out;
}

// Found by fuzz_record_recording (fuzz/corpus/fuzz_record_recording/regression-source-gap-ids-unknown):
// a source drop across a camera outage has no camera ids to name (first/last null, an estimated
// count), and the text report read them as numbers: type_error 302 out of `framering inspect`
// on exactly the recordings an outage leaves.
TEST(InspectCommand, ASourceDropWithUnknownCameraIdsIsPrintedWithoutBounds) {
  TempDir dir;
  const PageGeometry g{{16, 8, PixelFormat::Mono16}, false};
  RecordingSettings s;
  s.dest = dir.path();
  s.name = "rec";
  s.geometry = g;
  fs::path folder;
  {
    Recording sut(s, {"inst", "raw", "record", 42}, 0);
    // Camera ids 10, 11, then 500 after the outage, with an estimate of 5 frames lost: the id
    // jump (488) is not the count, so the ids are unknown.
    const std::uint64_t ids[] = {10, 11, 500};
    for (std::uint64_t seq = 0; seq < 3; ++seq) {
      Frame f({g.frame.width, g.frame.height, g.frame.pixel_format, g.frame.width * 2ULL}, seq);
      ASSERT_TRUE(sut.append({0, 0, seq, 1000 + seq, ids[seq], seq == 2 ? 5U : 0U}, f.data, f.stride, f.bytes).has_value());
    }
    (void)sut.close({{"reason", "frames"}});
    folder = sut.folder();
  }

  const auto [code, out] = run_inspect(folder, false);

  EXPECT_NE(code, -1);
  EXPECT_NE(out.find("gap [ids unknown] 5 frame(s), source_drop (camera_frame_id)"), std::string::npos) << out;
}

// Input 01 '{"ring":1,"geometry":{}}': the text report read "ring" with value("ring", "?"), which
// threw type_error 302 for a number.
TEST(InspectCommand, ARecordingJsonKeyOfAnotherTypeIsAProblemNotAnException) {
  TempDir dir;
  write_text(dir.path() / "recording.json", R"({"ring":1,"geometry":{}})");

  const auto [code, out] = run_inspect(dir.path(), false);

  EXPECT_EQ(code, 2);
  EXPECT_NE(out.find("recording.json is damaged: ring is an unsigned integer, expected a string"), std::string::npos)
      << out;
}

// Input 41 '{"start_sequence":"0"}': inspect_recording, which never throws for a damaged recording,
// threw type_error 302 reading start_sequence.
TEST(InspectRecording, AStartSequenceThatIsAStringIsAProblemNotAnException) {
  TempDir dir;
  write_text(dir.path() / "recording.json", R"({"start_sequence":"0"})");

  nlohmann::json report;
  ASSERT_NO_THROW(report = inspect_recording(dir.path()));

  EXPECT_EQ(report["consistent"], false);
  EXPECT_NE(report["problems"].dump().find("start_sequence is a string, expected an unsigned integer"),
            std::string::npos)
      << report.dump(2);
}

// Input 01 32: recording.json is "2". Resuming it by name called at("geometry") on a number
// (type_error 304; out_of_range 403 for {}), not the framering::Error the recorder reports.
TEST(Recording, ResumingARecordingJsonThatIsNotAnObjectIsAConfigErrorNamingIt) {
  TempDir dir;
  fs::create_directory(dir.path() / "rec");
  write_text(dir.path() / "rec" / "recording.json", "2");
  RecordingSettings s;
  s.dest = dir.path();
  s.name = "rec";
  s.geometry = {4, 2, PixelFormat::Mono16, false};

  try {
    Recording sut(s, {"fuzz", "raw", "record", 7}, 0);
    FAIL() << "resumed a recording whose recording.json is 2";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("recording.json is an unsigned integer, expected a JSON object"),
              std::string::npos)
        << e.what();
  }
}

// Input 21 '{"instance":5}': looking for its open recording (no --recording name), the recorder
// read every folder's "instance" with value(), which threw type_error 302: one damaged folder in
// --dest stopped `framering record` from starting.
TEST(Recording, AnotherFoldersDamagedRecordingJsonIsSkippedWhenLookingForTheOpenOne) {
  TempDir dir;
  fs::create_directory(dir.path() / "rec");
  write_text(dir.path() / "rec" / "recording.json", R"({"instance":5})");
  RecordingSettings s;
  s.dest = dir.path();
  s.geometry = {4, 2, PixelFormat::Mono16, false};

  std::optional<Recording> sut;
  ASSERT_NO_THROW(sut.emplace(s, RecordingIdentity{"fuzz", "raw", "record", 7}, 0));

  EXPECT_FALSE(sut->resumed());
  EXPECT_NE(sut->folder().filename(), "rec");
}

}  // namespace
}  // namespace framering::record
