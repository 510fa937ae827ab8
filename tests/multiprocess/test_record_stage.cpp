// `framering record` between real processes: a ring_peer producer writing the sequence pattern
// (pixel = sequence + x + 3y, camera_frame_id = 1000 + sequence) into "raw", the real framering
// binary recording it, and the recording read back by the programs our users read it with:
// tifffile (Debian python3-tifffile, /usr/bin/python3), tiffinfo and ImageJ (under xvfb-run).
// Processes are paused at known points (ring_peer's --stop-at, SIGSTOP of the recorder) and the
// tests wait on the ring's state, never on time.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "framering/common/ring_writer.hpp"
#include "framering/common/segment.hpp"
#include "framering/common/sequence_pattern.hpp"
#include "framering/record/recording.hpp"
#include "recording_check.hpp"
#include "ring_process.hpp"
#include "test_support.hpp"

namespace framering::record {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using test::Child;

std::string str(std::uint64_t value) { return std::to_string(value); }

class RecordStage : public ::testing::Test {
 protected:
  void SetUp() override {
    instance_ = test::unique_instance();
    dest_ = dir_.path() / "recordings";
  }
  void TearDown() override {
    for (const auto& m : mounts_) (void)test::run({"umount", "-l", m.string()}, 20s);
    test::remove_instance(instance_);
  }

  [[nodiscard]] std::vector<std::string> producer_argv(std::uint64_t frames, std::uint32_t slots,
                                                  std::vector<std::string> extra = {}) const {
    std::vector<std::string> args{"--ring", "raw", "--frames", str(frames), "--slots", str(slots), "--stop-at", "0"};
    if (std::find(extra.begin(), extra.end(), "--width") == extra.end()) {
      args.insert(args.end(), {"--width", "64", "--height", "48"});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    return test::peer_argv("produce", instance_, args);
  }

  [[nodiscard]] std::vector<std::string> recorder(std::vector<std::string> extra, const fs::path& dest = {}) const {
    std::vector<std::string> argv{"record", "--instance", instance_, "--dest", (dest.empty() ? dest_ : dest).string(),
                                  "--report-interval-s", "0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return test::framering_argv(argv);
  }

  [[nodiscard]] std::uint64_t published() const {
    const auto status = test::ring_status(instance_);
    return status ? status->published : 0;
  }

  [[nodiscard]] bool stopped_at(const Child& producer, std::uint64_t sequence) const {
    return test::wait_until([&] { return test::process_state(producer.pid()) == 'T' && published() == sequence; }, 20s);
  }

  [[nodiscard]] std::uint64_t cursor_of(const std::string& name) const {
    const auto status = test::ring_status(instance_);
    if (!status) return 0;
    const auto c = test::consumer_named(*status, name);
    return c ? c->cursor : 0;
  }

  // The single recording folder under dest_.
  [[nodiscard]] fs::path recording_folder() const {
    std::vector<fs::path> found;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dest_, ec)) {
      if (e.is_directory()) found.push_back(e.path());
    }
    EXPECT_EQ(found.size(), 1U) << dest_;
    return found.empty() ? fs::path{} : found.front();
  }

  [[nodiscard]] json tifffile_check(const fs::path& folder) const { return test::tifffile_check(folder, dir_.path()); }

  [[nodiscard]] static json read_json(const fs::path& path) {
    std::ifstream in(path);
    return json::parse(in, nullptr, false);
  }

  [[nodiscard]] static std::vector<std::uint64_t> range(std::uint64_t first, std::uint64_t end) {
    std::vector<std::uint64_t> v;
    for (std::uint64_t s = first; s < end; ++s) v.push_back(s);
    return v;
  }

  // Mounts a tmpfs at `where` (root only); false when the system refuses.
  bool mount_tmpfs(const fs::path& where, const std::string& options) {
    fs::create_directories(where);
    const auto r = test::run({"mount", "-t", "tmpfs", "-o", options, "tmpfs", where.string()}, 20s);
    if (r.exit_code != 0) return false;
    mounts_.push_back(where);
    return true;
  }

  test::TempDir dir_;
  std::string instance_;
  fs::path dest_;
  std::vector<fs::path> mounts_;
};

TEST_F(RecordStage, RecordsEveryFrameBitExactInOrderAndTifffileTiffinfoAndInspectAgree) {
  test::Watchdog watchdog(120s);
  constexpr std::uint64_t kFrames = 200;
  Child producer(producer_argv(kFrames, 8));
  ASSERT_TRUE(stopped_at(producer, 0)) << producer.err();
  Child sut(recorder({"--frames", str(kFrames), "--max-file-frames", "64"}));
  ASSERT_TRUE(test::wait_attached(instance_, "record", sut.pid(), 30s)) << sut.err();

  producer.signal(SIGCONT);

  ASSERT_EQ(test::finish(producer, 60s), 0) << producer.err();
  ASSERT_EQ(test::finish(sut, 60s), 0) << sut.out() << sut.err();
  const json summary = test::report_of(sut.out());
  EXPECT_EQ(summary["recorded"], kFrames);
  EXPECT_EQ(summary["lost"], 0);
  EXPECT_EQ(summary["files"], 4);  // 64 + 64 + 64 + 8
  const fs::path folder = recording_folder();
  const json check = tifffile_check(folder);
  EXPECT_EQ(check["sequences"], range(0, kFrames));
  EXPECT_EQ(check["bad"], json::array());
  EXPECT_EQ(check["dtypes"], json({"uint16", "uint16", "uint16", "uint16"}));
  EXPECT_EQ(check["shapes"][0], json({48, 64}));
  EXPECT_EQ(check["pages"], json({{"1", 64}, {"2", 64}, {"3", 64}, {"4", 8}}));
  const json manifest = read_json(folder / "manifest.json");
  EXPECT_EQ(manifest["complete"], true);
  EXPECT_EQ(manifest["frames_recorded"], kFrames);
  EXPECT_EQ(manifest["first_sequence"], 0);
  EXPECT_EQ(manifest["last_sequence"], kFrames - 1);
  EXPECT_EQ(manifest["gaps"], json::array());
  // The index carries the camera's frame id and the page of each frame.
  std::ifstream index(folder / "index.csv");
  std::string header, first;
  std::getline(index, header);
  std::getline(index, first);
  EXPECT_EQ(header, "part,page,sequence,timestamp_ns,camera_frame_id,source_frames_lost,settings_generation");
  EXPECT_EQ(first.substr(0, 6), "1,0,0,");
  EXPECT_EQ(first.substr(first.size() - 9), ",1000,0,0") << "camera frame id, none lost, the settings it started with";
  const auto info = test::run({"tiffinfo", (folder / "part-000004.tif").string()}, 30s);
  EXPECT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("TIFF directory 7"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("Bits/Sample: 16"), std::string::npos) << info.out;
  const auto inspect = test::run(test::framering_argv({"inspect", folder.string(), "--json"}), 30s);
  EXPECT_EQ(inspect.exit_code, 0) << inspect.out << inspect.err;
  const json report = json::parse(inspect.out, nullptr, false);
  EXPECT_EQ(report["consistent"], true) << inspect.out;
  EXPECT_EQ(report["pages"], kFrames);
}

TEST_F(RecordStage, Mono8FramesAreRecordedAsUint8BigTiffWithTheirExactShape) {
  test::Watchdog watchdog(120s);
  Child producer(producer_argv(30, 8, {"--format", "Mono8", "--width", "37", "--height", "11"}));
  ASSERT_TRUE(stopped_at(producer, 0)) << producer.err();
  Child sut(recorder({"--frames", "30", "--bigtiff"}));
  ASSERT_TRUE(test::wait_attached(instance_, "record", sut.pid(), 30s)) << sut.err();

  producer.signal(SIGCONT);

  ASSERT_EQ(test::finish(producer, 60s), 0) << producer.err();
  ASSERT_EQ(test::finish(sut, 60s), 0) << sut.out() << sut.err();
  const json check = tifffile_check(recording_folder());
  EXPECT_EQ(check["sequences"], range(0, 30));
  EXPECT_EQ(check["bad"], json::array());
  EXPECT_EQ(check["dtypes"], json({"uint8"}));
  EXPECT_EQ(check["shapes"][0], json({11, 37}));
  EXPECT_EQ(check["bigtiff"], json({true}));
}

TEST_F(RecordStage, RgbFramesAreRgbTiffPagesThatTifffileReadsAsHeightWidthThreeEverySampleExact) {
  test::Watchdog watchdog(120s);
  for (const bool bigtiff : {false, true}) {  // classic: BitsPerSample's three values outside the IFD entry
    SCOPED_TRACE(bigtiff ? "BigTIFF" : "classic TIFF");
    const fs::path dest = dir_.path() / (bigtiff ? "big" : "classic");
    Child producer(producer_argv(30, 8, {"--format", "RGB8", "--width", "37", "--height", "11"}));
    ASSERT_TRUE(stopped_at(producer, 0)) << producer.err();
    std::vector<std::string> extra{"--frames", "30"};
    if (bigtiff) extra.push_back("--bigtiff");
    Child sut(recorder(extra, dest));
    ASSERT_TRUE(test::wait_attached(instance_, "record", sut.pid(), 30s)) << sut.err();
    producer.signal(SIGCONT);
    ASSERT_EQ(test::finish(producer, 60s), 0) << producer.err();
    ASSERT_EQ(test::finish(sut, 60s), 0) << sut.out() << sut.err();
    std::vector<fs::path> folders;
    for (const auto& e : fs::directory_iterator(dest)) folders.push_back(e.path());
    ASSERT_EQ(folders.size(), 1U);
    const json check = tifffile_check(folders[0]);
    EXPECT_EQ(check["sequences"], range(0, 30));
    EXPECT_EQ(check["bad"], json::array()) << "every R, G and B sample is the pattern of its sequence";
    EXPECT_EQ(check["dtypes"], json({"uint8"}));
    EXPECT_EQ(check["shapes"][0], json({11, 37, 3}));
    EXPECT_EQ(check["photometric"], json({2})) << "PhotometricInterpretation RGB";
    EXPECT_EQ(check["bigtiff"], json({bigtiff}));
    const json description = read_json(folders[0] / "recording.json");
    EXPECT_EQ(description["geometry"]["samples_per_pixel"], 3);
    EXPECT_EQ(description["geometry"]["pixel_format"], "RGB8");
    const auto inspect = test::run({test::framering_bin(), "inspect", folders[0].string()}, 60s);
    EXPECT_EQ(inspect.exit_code, 0) << inspect.out << inspect.err;
    EXPECT_NE(inspect.out.find("37x11 RGB8 (uint8 x 3 samples)"), std::string::npos) << inspect.out;
    test::remove_instance(instance_);
  }
}

TEST_F(RecordStage, BayerFramesAreRawPagesWithTheirCfaPatternInTheTiffEpTagsAndTheRecording) {
  test::Watchdog watchdog(120s);
  Child producer(producer_argv(20, 8, {"--format", "BayerGB16", "--width", "36", "--height", "10"}));
  ASSERT_TRUE(stopped_at(producer, 0)) << producer.err();
  Child sut(recorder({"--frames", "20"}));
  ASSERT_TRUE(test::wait_attached(instance_, "record", sut.pid(), 30s)) << sut.err();
  producer.signal(SIGCONT);
  ASSERT_EQ(test::finish(producer, 60s), 0) << producer.err();
  ASSERT_EQ(test::finish(sut, 60s), 0) << sut.out() << sut.err();
  const json check = tifffile_check(recording_folder());
  EXPECT_EQ(check["sequences"], range(0, 20));
  EXPECT_EQ(check["bad"], json::array());
  EXPECT_EQ(check["dtypes"], json({"uint16"}));
  EXPECT_EQ(check["shapes"][0], json({10, 36})) << "one raw sample per pixel, as the sensor gave it";
  EXPECT_EQ(check["photometric"], json({1})) << "BlackIsZero: every TIFF reader opens the mosaic";
  EXPECT_EQ(check["cfa"], json({json({1, 2, 0, 1})})) << "TIFF/EP CFAPattern of GBRG: green, blue / red, green";
  EXPECT_EQ(read_json(recording_folder() / "recording.json")["geometry"]["cfa_pattern"], "GBRG");
  const auto inspect = test::run({test::framering_bin(), "inspect", recording_folder().string()}, 60s);
  EXPECT_EQ(inspect.exit_code, 0) << inspect.out << inspect.err;
  EXPECT_NE(inspect.out.find("raw Bayer mosaic, CFA GBRG"), std::string::npos) << inspect.out;
}

TEST_F(RecordStage, ABgrRingIsRefusedWithTheReasonAndNothingIsWritten) {
  test::Watchdog watchdog(60s);
  Child producer(producer_argv(5, 8, {"--format", "BGR8"}));
  ASSERT_TRUE(stopped_at(producer, 0)) << producer.err();
  const auto r = test::run(recorder({"--frames", "5"}), 30s);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("record: ring 'raw' holds BGR8 frames; record takes every format but BGR8"), std::string::npos)
      << r.err;
  std::error_code ec;
  EXPECT_TRUE(!fs::exists(dest_, ec) || fs::is_empty(dest_, ec)) << "no recording folder is left behind";
  producer.signal(SIGKILL);
}

TEST_F(RecordStage, ImageJOpensAnRgbRecordingAsAnRgbStack) {
  test::Watchdog watchdog(170s);
  if (::access("/usr/bin/imagej", X_OK) != 0 || ::access("/usr/bin/xvfb-run", X_OK) != 0) {
    GTEST_SKIP() << "imagej or xvfb-run is not installed (scripts/setup-deps.sh installs them)";
  }
  Child producer(producer_argv(12, 8, {"--format", "RGB8"}));
  ASSERT_TRUE(stopped_at(producer, 0)) << producer.err();
  Child sut(recorder({"--frames", "12"}));
  ASSERT_TRUE(test::wait_attached(instance_, "record", sut.pid(), 30s)) << sut.err();
  producer.signal(SIGCONT);
  ASSERT_EQ(test::finish(producer, 60s), 0) << producer.err();
  ASSERT_EQ(test::finish(sut, 60s), 0) << sut.out() << sut.err();
  const fs::path macro = dir_.path() / "rgb.ijm";
  // Pixel (5, 2) of slice 3 (sequence 2): R, G, B = 2 + 5 + 6 (+ 85, + 170) = 13, 98, 183.
  std::ofstream(macro) << "open(getArgument());\n"
                          "setSlice(3); v = getPixel(5, 2);\n"
                          "print(\"FRAMERING_IJ nSlices=\" + nSlices + \" bitDepth=\" + bitDepth() + \" rgb=\" + "
                          "((v >> 16) & 0xff) + \",\" + ((v >> 8) & 0xff) + \",\" + (v & 0xff));\n";
  const auto ij = test::run({"timeout", "120", "xvfb-run", "-a", "/usr/bin/imagej", "-b", macro.string(),
                             (recording_folder() / "part-000001.tif").string()},
                            150s);
  EXPECT_NE(ij.out.find("FRAMERING_IJ nSlices=12 bitDepth=24 rgb=13,98,183"), std::string::npos)
      << "exit " << ij.exit_code << "\n" << ij.out << ij.err;
}

TEST_F(RecordStage, ImageJOpensARecordingPartAsAStackOfTheRightSize) {
  test::Watchdog watchdog(170s);
  if (::access("/usr/bin/imagej", X_OK) != 0 || ::access("/usr/bin/xvfb-run", X_OK) != 0) {
    GTEST_SKIP() << "imagej or xvfb-run is not installed (scripts/setup-deps.sh installs them)";
  }
  Child producer(producer_argv(30, 8));
  ASSERT_TRUE(stopped_at(producer, 0)) << producer.err();
  Child sut(recorder({"--frames", "30"}));
  ASSERT_TRUE(test::wait_attached(instance_, "record", sut.pid(), 30s)) << sut.err();
  producer.signal(SIGCONT);
  ASSERT_EQ(test::finish(producer, 60s), 0) << producer.err();
  ASSERT_EQ(test::finish(sut, 60s), 0) << sut.out() << sut.err();
  const fs::path macro = dir_.path() / "stack.ijm";
  std::ofstream(macro) << "open(getArgument());\n"
                          "print(\"FRAMERING_IJ nSlices=\" + nSlices + \" width=\" + getWidth() + \" height=\" + "
                          "getHeight() + \" bitDepth=\" + bitDepth());\n";

  // ImageJ hangs instead of failing on a file it cannot open: the timeout bounds that.
  const auto ij = test::run({"timeout", "120", "xvfb-run", "-a", "/usr/bin/imagej", "-b", macro.string(),
                             (recording_folder() / "part-000001.tif").string()},
                            150s);

  EXPECT_NE(ij.out.find("FRAMERING_IJ nSlices=30 width=64 height=48 bitDepth=16"), std::string::npos)
      << "exit " << ij.exit_code << "\n" << ij.out << ij.err;
}

TEST_F(RecordStage, ProducerWaitsWhileTheRecorderIsStoppedAndNothingIsLost) {
  test::Watchdog watchdog(120s);
  constexpr std::uint32_t kSlots = 4;
  Child producer(producer_argv(100, kSlots));
  ASSERT_TRUE(stopped_at(producer, 0)) << producer.err();
  Child sut(recorder({"--frames", "100", "--stall-timeout-s", "0"}));
  ASSERT_TRUE(test::wait_attached(instance_, "record", sut.pid(), 30s)) << sut.err();
  sut.signal(SIGSTOP);
  ASSERT_TRUE(test::wait_stopped(sut, 20s));

  producer.signal(SIGCONT);

  // The producer fills the ring and waits for the recorder: exactly slot_count frames out.
  const auto segment = ring::Segment::open(instance_, "raw");
  ASSERT_TRUE(test::wait_until(
      [&] { return ring::at(segment.control().space.producer_waiting).load() == 1 && published() == kSlots; }, 30s))
      << "published " << published();
  EXPECT_EQ(cursor_of("record"), 0U);
  sut.signal(SIGCONT);
  ASSERT_EQ(test::finish(producer, 60s), 0) << producer.err();
  ASSERT_EQ(test::finish(sut, 60s), 0) << sut.out() << sut.err();
  const json summary = test::report_of(sut.out());
  EXPECT_EQ(summary["recorded"], 100);
  EXPECT_EQ(summary["lost"], 0);
  EXPECT_EQ(summary["complete"], true);
  EXPECT_EQ(tifffile_check(recording_folder())["sequences"], range(0, 100));
}

TEST_F(RecordStage, AnEvictedRecorderRecordsTheExactGapAndExitsWithCodeThree) {
  test::Watchdog watchdog(120s);
  constexpr std::uint64_t kFrames = 100;
  Child producer(producer_argv(kFrames, 8));
  ASSERT_TRUE(stopped_at(producer, 0)) << producer.err();
  Child sut(recorder({"--stall-timeout-s", "0.2"}));
  ASSERT_TRUE(test::wait_attached(instance_, "record", sut.pid(), 30s)) << sut.err();
  sut.signal(SIGSTOP);  // stalled: the producer fills the ring, waits 0.2 s, evicts it, goes on
  ASSERT_TRUE(test::wait_stopped(sut, 20s));
  producer.signal(SIGCONT);
  ASSERT_EQ(test::finish(producer, 60s), 0) << producer.err();

  sut.signal(SIGTERM);  // delivered when it continues: it drains what the ring still holds
  sut.signal(SIGCONT);

  ASSERT_EQ(test::finish(sut, 60s), 3) << sut.out() << sut.err();
  const fs::path folder = recording_folder();
  const json manifest = read_json(folder / "manifest.json");
  ASSERT_EQ(manifest["gaps"].size(), 1U) << manifest.dump(2);
  const json gap = manifest["gaps"][0];
  EXPECT_EQ(gap["cause"], "evicted");
  EXPECT_EQ(gap["first"], 0);
  const json check = tifffile_check(folder);
  ASSERT_FALSE(check["sequences"].empty());
  // Exactly the frames not recorded: the gap ends just before the first recorded frame, and
  // recorded + lost = published.
  EXPECT_EQ(gap["last"].get<std::uint64_t>() + 1, check["sequences"][0].get<std::uint64_t>());
  EXPECT_EQ(check["sequences"], range(check["sequences"][0], kFrames));
  EXPECT_EQ(check["bad"], json::array());
  EXPECT_EQ(manifest["frames_recorded"].get<std::uint64_t>() + gap["count"].get<std::uint64_t>(), kFrames);
  EXPECT_EQ(manifest["complete"], false);
  EXPECT_EQ(manifest["frames_lost"], gap["count"]);
  const auto inspect = test::run(test::framering_argv({"inspect", folder.string()}), 30s);
  EXPECT_EQ(inspect.exit_code, 3) << inspect.out << inspect.err;
  EXPECT_NE(inspect.out.find("gap [0, " + gap["last"].dump() + "]"), std::string::npos) << inspect.out;
  EXPECT_NE(inspect.out.find("INCOMPLETE"), std::string::npos) << inspect.out;
}

TEST_F(RecordStage, SigtermDrainsEveryFrameAlreadyInTheRingBeforeClosing) {
  test::Watchdog watchdog(120s);
  constexpr std::uint64_t kFrames = 50;
  Child producer(producer_argv(kFrames, 64));  // the ring holds all 50: the producer never waits
  ASSERT_TRUE(stopped_at(producer, 0)) << producer.err();
  Child sut(recorder({}));
  ASSERT_TRUE(test::wait_attached(instance_, "record", sut.pid(), 30s)) << sut.err();
  sut.signal(SIGSTOP);
  ASSERT_TRUE(test::wait_stopped(sut, 20s));
  producer.signal(SIGCONT);
  ASSERT_EQ(test::finish(producer, 60s), 0) << producer.err();
  ASSERT_EQ(cursor_of("record"), 0U);  // all 50 frames are in the ring, none recorded

  sut.signal(SIGTERM);
  sut.signal(SIGCONT);

  ASSERT_EQ(test::finish(sut, 60s), 0) << sut.out() << sut.err();
  const json summary = test::report_of(sut.out());
  EXPECT_EQ(summary["recorded"], kFrames);
  EXPECT_EQ(summary["stop"]["reason"], "signal SIGTERM");
  const fs::path folder = recording_folder();
  EXPECT_EQ(read_json(folder / "manifest.json")["frames_recorded"], kFrames);
  EXPECT_EQ(tifffile_check(folder)["sequences"], range(0, kFrames));
}

TEST_F(RecordStage, WithFailOnDropTheFirstGapEndsTheRecordingWithStopReasonDrop) {
  test::Watchdog watchdog(120s);
  constexpr std::uint64_t kFrames = 100;
  Child producer(producer_argv(kFrames, 8));
  ASSERT_TRUE(stopped_at(producer, 0)) << producer.err();
  Child sut(recorder({"--stall-timeout-s", "0.2", "--fail-on-drop"}));
  ASSERT_TRUE(test::wait_attached(instance_, "record", sut.pid(), 30s)) << sut.err();
  sut.signal(SIGSTOP);  // stalled: the producer fills the ring, waits 0.2 s, evicts it, goes on
  ASSERT_TRUE(test::wait_stopped(sut, 20s));
  producer.signal(SIGCONT);
  ASSERT_EQ(test::finish(producer, 60s), 0) << producer.err();
  sut.signal(SIGCONT);  // no stop: the gap alone must end it

  ASSERT_EQ(test::finish(sut, 60s), 3) << sut.out() << sut.err();
  const json summary = test::report_of(sut.out());
  EXPECT_EQ(summary["stop"]["reason"], "drop") << summary.dump(2);
  const fs::path folder = recording_folder();
  const json manifest = read_json(folder / "manifest.json");
  EXPECT_EQ(manifest["stop"]["reason"], "drop");
  ASSERT_EQ(manifest["gaps"].size(), 1U) << manifest.dump(2);
  const json gap = manifest["gaps"][0];
  EXPECT_EQ(gap["cause"], "evicted");
  // The frame after the gap is the one recorded after it, and the last: the recording ended there.
  EXPECT_EQ(manifest["frames_recorded"], 1) << manifest.dump(2);
  EXPECT_EQ(manifest["last_sequence"].get<std::uint64_t>(), gap["last"].get<std::uint64_t>() + 1);
  EXPECT_EQ(manifest["complete"], false);
  EXPECT_EQ(tifffile_check(folder)["bad"], json::array());
  const auto inspect = test::run(test::framering_argv({"inspect", folder.string()}), 30s);
  EXPECT_EQ(inspect.exit_code, 3) << inspect.out << inspect.err;
}

TEST_F(RecordStage, AfterSigkillTheFileStaysReadableAndARestartResumesAtTheCursorInANewPart) {
  test::Watchdog watchdog(150s);
  constexpr std::uint64_t kFrames = 120;
  constexpr std::uint64_t kKillAt = 50;
  Child producer(producer_argv(kFrames, 16, {"--stop-at", str(kKillAt)}));
  ASSERT_TRUE(stopped_at(producer, 0)) << producer.err();
  const auto args = recorder({"--dead-timeout-s", "60"});  // the restart finds its open recording itself
  auto first = std::make_unique<Child>(args);
  ASSERT_TRUE(test::wait_attached(instance_, "record", first->pid(), 30s)) << first->err();
  producer.signal(SIGCONT);
  ASSERT_TRUE(stopped_at(producer, kKillAt)) << producer.err();
  ASSERT_TRUE(test::wait_until([&] { return cursor_of("record") == kKillAt; }, 30s));

  first->signal(SIGKILL);
  ASSERT_EQ(test::finish(*first, 20s), 128 + SIGKILL);
  const fs::path folder = recording_folder();
  EXPECT_FALSE(fs::exists(folder / "manifest.json"));
  const json killed = tifffile_check(folder);  // readable as it was left
  EXPECT_EQ(killed["sequences"], range(0, kKillAt));
  EXPECT_EQ(killed["bad"], json::array());

  Child second(args);
  ASSERT_TRUE(test::wait_attached(instance_, "record", second.pid(), 30s)) << second.err();
  producer.signal(SIGCONT);
  ASSERT_EQ(test::finish(producer, 60s), 0) << producer.err();
  ASSERT_TRUE(test::wait_until([&] { return cursor_of("record") == kFrames; }, 30s));
  second.signal(SIGTERM);

  ASSERT_EQ(test::finish(second, 60s), 0) << second.out() << second.err();
  const json summary = test::report_of(second.out());
  EXPECT_EQ(summary["resumed"], true);
  EXPECT_EQ(summary["recorded"], kFrames - kKillAt);
  const json manifest = read_json(folder / "manifest.json");
  EXPECT_EQ(manifest["frames_recorded"], kFrames);
  EXPECT_EQ(manifest["complete"], true);
  EXPECT_EQ(manifest["sessions"], 2);
  EXPECT_EQ(manifest["files"].size(), 2U);
  const json check = tifffile_check(folder);
  EXPECT_EQ(check["sequences"], range(0, kFrames));
  EXPECT_EQ(check["bad"], json::array());
  EXPECT_EQ(check["pages"], json({{"1", kKillAt}, {"2", kFrames - kKillAt}}));
}

TEST_F(RecordStage, KilledWhileWritingFlatOutARestartedRecorderLeavesEveryFrameExactlyOnce) {
  test::Watchdog watchdog(150s);
  constexpr std::uint64_t kFrames = 400;
  Child producer(producer_argv(kFrames, 8));
  ASSERT_TRUE(stopped_at(producer, 0)) << producer.err();
  const auto args = recorder({"--dead-timeout-s", "60", "--recording", "flat-out", "--max-file-frames", "150"});
  auto first = std::make_unique<Child>(args);
  ASSERT_TRUE(test::wait_attached(instance_, "record", first->pid(), 30s)) << first->err();
  producer.signal(SIGCONT);
  ASSERT_TRUE(test::wait_until([&] { return cursor_of("record") >= 100; }, 30s));

  first->signal(SIGKILL);  // wherever it is: mid-pwritev, between link and index, before release
  ASSERT_EQ(test::finish(*first, 20s), 128 + SIGKILL);
  Child second(args);
  ASSERT_TRUE(test::wait_attached(instance_, "record", second.pid(), 30s)) << second.err();
  ASSERT_EQ(test::finish(producer, 60s), 0) << producer.err();
  ASSERT_TRUE(test::wait_until([&] { return cursor_of("record") == kFrames; }, 30s));
  second.signal(SIGTERM);

  ASSERT_EQ(test::finish(second, 60s), 0) << second.out() << second.err();
  const fs::path folder = dest_ / "flat-out";
  const json check = tifffile_check(folder);
  EXPECT_EQ(check["sequences"], range(0, kFrames));  // each once, in order, across the parts
  EXPECT_EQ(check["bad"], json::array());
  const json manifest = read_json(folder / "manifest.json");
  EXPECT_EQ(manifest["frames_recorded"], kFrames);
  EXPECT_EQ(manifest["complete"], true);
  const auto inspect = test::run(test::framering_argv({"inspect", folder.string()}), 30s);
  EXPECT_EQ(inspect.exit_code, 0) << inspect.out;
}

TEST_F(RecordStage, AFullDiskEndsWithAClearErrorAValidFileAndReleasesTheRing) {
  test::Watchdog watchdog(120s);
  // 128x128 Mono16: 36 KiB per page; a 1 MiB disk holds about 27 of them.
  const fs::path disk = dir_.path() / "disk";
  std::vector<std::string> prefix;
  if (!mount_tmpfs(disk, "size=1m")) {
    fs::create_directories(disk);
    prefix = {"prlimit", "--fsize=1048576"};  // no mount here: each file may grow to 1 MiB
  }
  Child producer(producer_argv(200, 8, {"--width", "128", "--height", "128"}));
  ASSERT_TRUE(stopped_at(producer, 0)) << producer.err();
  std::vector<std::string> argv = recorder({}, disk);
  argv.insert(argv.begin(), prefix.begin(), prefix.end());
  Child sut(argv);
  ASSERT_TRUE(test::wait_attached(instance_, "record", sut.pid(), 30s)) << sut.err();

  producer.signal(SIGCONT);

  ASSERT_EQ(test::finish(sut, 60s), 2) << sut.out() << sut.err();
  ASSERT_EQ(test::finish(producer, 60s), 0) << producer.err();  // released: all 200 published
  EXPECT_NE(sut.err().find("part-000001.tif"), std::string::npos) << sut.err();
  EXPECT_TRUE(sut.err().find("No space left on device") != std::string::npos ||
              sut.err().find("File too large") != std::string::npos)
      << sut.err();
  dest_ = disk;
  const fs::path folder = recording_folder();
  const json check = tifffile_check(folder);  // every page tifffile reads has its index row
  ASSERT_GT(check["frames"].get<std::uint64_t>(), 0U);
  EXPECT_EQ(check["sequences"], range(0, check["frames"]));
  EXPECT_EQ(check["bad"], json::array());
  EXPECT_EQ(check["pages"]["1"], check["frames"]);
  const json manifest = read_json(folder / "manifest.json");
  if (manifest.is_object()) {
    EXPECT_EQ(manifest["stop"]["reason"], "error");
    EXPECT_NE(manifest["stop"]["message"].get<std::string>().find("part-000001.tif"), std::string::npos);
    EXPECT_EQ(manifest["last_sequence"], check["frames"].get<std::uint64_t>() - 1);
  } else {
    std::ifstream in(folder / "index.csv");
    const std::string index((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(index.find("# stopped: error after sequence"), std::string::npos) << index;
  }
  const auto inspect = test::run(test::framering_argv({"inspect", folder.string(), "--json"}), 30s);
  EXPECT_EQ(json::parse(inspect.out, nullptr, false)["consistent"], true) << inspect.out;
  EXPECT_EQ(json::parse(inspect.out, nullptr, false)["complete"], false) << "it stopped early: " << inspect.out;
  EXPECT_EQ(inspect.exit_code, 3);
}

TEST_F(RecordStage, AnUnwritableFolderIsAClearErrorNamingItAndReleasesTheRing) {
  test::Watchdog watchdog(90s);
  const fs::path locked = dir_.path() / "locked";
  if (::geteuid() == 0) {
    if (!mount_tmpfs(locked, "ro,size=1m")) GTEST_SKIP() << "root, and no read-only tmpfs: no unwritable folder here";
  } else {
    fs::create_directories(locked);
    fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec);
  }
  Child producer(producer_argv(40, 8));
  ASSERT_TRUE(stopped_at(producer, 0)) << producer.err();

  Child sut(recorder({}, locked / "recordings"));

  ASSERT_EQ(test::finish(sut, 60s), 2) << sut.out() << sut.err();
  EXPECT_NE(sut.err().find("framering: cannot create the destination folder " + (locked / "recordings").string()),
            std::string::npos)
      << sut.err();
  producer.signal(SIGCONT);
  ASSERT_EQ(test::finish(producer, 60s), 0) << producer.err();  // nothing gates it
}

TEST_F(RecordStage, ABadDestinationIsRefusedBeforeAttaching) {
  test::Watchdog watchdog(60s);
  const fs::path file = dir_.path() / "a-file";
  std::ofstream(file) << "x";

  const auto not_a_folder = test::run(recorder({"--wait-for-ring-s", "0"}, file), 30s);
  const auto bad_name = test::run(recorder({"--wait-for-ring-s", "0", "--recording", "../elsewhere"}), 30s);

  EXPECT_EQ(not_a_folder.exit_code, 2);
  EXPECT_NE(not_a_folder.err.find("--dest " + file.string() + " exists and is not a folder"), std::string::npos)
      << not_a_folder.err;
  EXPECT_EQ(bad_name.exit_code, 2);
  EXPECT_NE(bad_name.err.find("--recording '../elsewhere' is not a valid recording name"), std::string::npos)
      << bad_name.err;
  EXPECT_FALSE(fs::exists(dir_.path() / "elsewhere"));
}

TEST_F(RecordStage, SourceDropsAreReportedWithCameraIdsAndLeaveTheRecordingComplete) {
  test::Watchdog watchdog(90s);
  ring::RingGeometry g;
  g.frame.width = 32;
  g.frame.height = 16;
  g.frame.pixel_format = PixelFormat::Mono16;
  g.slot_count = 8;
  auto writer = ring::RingWriter::create_or_attach(instance_, "raw", g);
  Child sut(recorder({"--frames", "10"}));
  ASSERT_TRUE(test::wait_attached(instance_, "record", sut.pid(), 30s)) << sut.err();
  const auto& h = writer.segment().header();
  std::uint64_t camera = 500;
  for (std::uint64_t s = 0; s < 10; ++s) {
    auto slot = writer.claim(20s);
    ASSERT_TRUE(slot.has_value());
    fill_sequence_pattern(slot->pixels, {h.width, h.height, PixelFormat::Mono16, h.stride_bytes}, s);
    const std::uint64_t lost = s == 5 ? 3 : 0;  // camera frames 505, 506, 507 never arrived
    camera += lost;
    writer.publish({.timestamp_ns = 0, .camera_frame_id = camera, .source_frames_lost = lost});
    ++camera;
  }

  ASSERT_EQ(test::finish(sut, 60s), 0) << sut.out() << sut.err();
  const json manifest = read_json(recording_folder() / "manifest.json");
  EXPECT_EQ(manifest["complete"], true);
  EXPECT_EQ(manifest["source_frames_lost"], 3);
  ASSERT_EQ(manifest["gaps"].size(), 1U) << manifest.dump(2);
  EXPECT_EQ(manifest["gaps"][0]["cause"], "source_drop");
  EXPECT_EQ(manifest["gaps"][0]["first"], 505);
  EXPECT_EQ(manifest["gaps"][0]["last"], 507);
  EXPECT_EQ(manifest["gaps"][0]["camera_frame_id_before"], 504);
  EXPECT_EQ(manifest["gaps"][0]["camera_frame_id_after"], 508);
  EXPECT_EQ(manifest["gaps"][0]["before_sequence"], 5);
}

TEST_F(RecordStage, InspectOfATruncatedFileOrAMissingIndexReportsItAndExitsTwo) {
  test::Watchdog watchdog(60s);
  RecordingSettings s;
  s.dest = dest_;
  s.geometry = {64, 48, PixelFormat::Mono16, false};
  for (const char* name : {"truncated", "noindex"}) {
    s.name = name;
    Recording r(s, {instance_, "raw", "record", 1}, 0);
    alignas(4096) static std::byte frame[64 * 48 * 2 + 4096 - 64 * 48 * 2 % 4096];
    for (std::uint64_t seq = 0; seq < 4; ++seq) {
      fill_sequence_pattern({frame, 64 * 48 * 2}, {64, 48, PixelFormat::Mono16, 128}, seq);
      ASSERT_TRUE(r.append({0, 0, seq, 0, seq, 0}, frame, 128, sizeof frame).has_value());
    }
    (void)r.close({{"reason", "frames"}});
  }
  fs::resize_file(dest_ / "truncated" / "part-000001.tif", 2 * s.geometry.page_bytes() + 4096 + 100);
  fs::remove(dest_ / "noindex" / "index.csv");

  const auto truncated = test::run(test::framering_argv({"inspect", (dest_ / "truncated").string()}), 30s);
  const auto noindex = test::run(test::framering_argv({"inspect", (dest_ / "noindex" / "part-000001.tif").string()}), 30s);
  const auto both = test::run(test::framering_argv({"inspect", dest_.string(), "--json"}), 30s);

  EXPECT_EQ(truncated.exit_code, 2) << truncated.out << truncated.err;
  EXPECT_NE(truncated.out.find("past the end of the file"), std::string::npos) << truncated.out;
  EXPECT_NE(truncated.out.find("2 readable pages but 4 index rows"), std::string::npos) << truncated.out;
  EXPECT_EQ(noindex.exit_code, 2) << noindex.out << noindex.err;
  EXPECT_NE(noindex.out.find("no index.csv"), std::string::npos) << noindex.out;
  EXPECT_NE(noindex.out.find("4 readable pages"), std::string::npos) << noindex.out;
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_EQ(json::parse(both.out, nullptr, false).size(), 2U) << both.out;
}

TEST_F(RecordStage, RunWithARecordStageReportsFramesRecordedAndLost) {
  test::Watchdog watchdog(150s);
  const fs::path config = dir_.path() / "record.toml";
  std::ofstream(config) << "instance = \"" << instance_ << "\"\n"
                        << "[[stage]]\nname = \"acquire\"\nsource = \"pattern\"\nwidth = 64\nheight = 48\n"
                        << "pixel-format = \"Mono16\"\nrate-hz = 0\n"
                        << "[[stage]]\nname = \"record\"\nring = \"raw\"\ndest = \"" << dest_.string() << "\"\n";
  const fs::path summary_path = dir_.path() / "summary.json";

  const auto r = test::run(test::framering_argv({"run", "--config", config.string(), "--frames", "40",
                                                 "--summary-json", summary_path.string()}),
                           120s);

  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const json summary = read_json(summary_path);
  json record;
  for (const auto& stage : summary["stages"]) {
    if (stage["name"] == "record") record = stage;
  }
  ASSERT_TRUE(record.is_object()) << summary.dump(2);
  EXPECT_EQ(record["frames"], 40);
  EXPECT_EQ(record["lost"], 0);
  const json manifest = read_json(recording_folder() / "manifest.json");
  EXPECT_EQ(manifest["frames_recorded"], 40);
  EXPECT_EQ(manifest["complete"], true);
}

TEST_F(RecordStage, RecordAndInspectHelpTeachWithAnExampleAndTheExampleConfigChecks) {
  test::Watchdog watchdog(60s);

  const auto record_help = test::run(test::framering_argv({"record", "--help"}), 30s);
  const auto inspect_help = test::run(test::framering_argv({"inspect", "--help"}), 30s);
  const auto dry_run = test::run(
      test::framering_argv({"run", "--config", test::source_dir() + "/config/record.toml", "--dry-run"}), 30s);

  EXPECT_EQ(record_help.exit_code, 0);
  EXPECT_NE(record_help.out.find("Example: framering record"), std::string::npos) << record_help.out;
  EXPECT_NE(record_help.out.find("index.csv"), std::string::npos) << record_help.out;
  EXPECT_EQ(inspect_help.exit_code, 0);
  EXPECT_NE(inspect_help.out.find("framering inspect /data/recordings"), std::string::npos) << inspect_help.out;
  EXPECT_EQ(dry_run.exit_code, 0) << dry_run.out << dry_run.err;
  EXPECT_NE(dry_run.out.find("framering record"), std::string::npos) << dry_run.out;
}

}  // namespace
}  // namespace framering::record
