// `framering run` end to end, with the real stages as real processes: content through the whole
// pipeline, filtering, restarts after a crash, clean stops, bad configs refused before anything
// starts, and the bundled configs accepted by the stages they name.
#include <signal.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "framering/common/error.hpp"
#include "framering/common/ring_reader.hpp"
#include "framering/common/ring_status.hpp"
#include "framering/common/segment.hpp"
#include "framering/common/sequence_pattern.hpp"
#include "ring_process.hpp"
#include "test_support.hpp"

namespace framering {
namespace {

using namespace std::chrono_literals;

class RunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    instance_ = test::unique_instance();
    dir_ = std::filesystem::temp_directory_path() / ("framering-run-" + instance_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    test::remove_instance(instance_);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string write_config(const std::string& body) {
    const auto path = dir_ / "pipeline.toml";
    std::ofstream(path) << fmt::format("instance = \"{}\"\n[restart]\nmax_restarts = 3\nbackoff_ms = 50\n", instance_)
                        << body;
    return path.string();
  }

  nlohmann::json summary() const {
    std::ifstream in(dir_ / "summary.json");
    nlohmann::json j;
    in >> j;
    return j;
  }

  static const nlohmann::json& stage(const nlohmann::json& summary, const std::string& name) {
    for (const auto& s : summary["stages"]) {
      if (s["name"] == name) return s;
    }
    static const nlohmann::json none;
    ADD_FAILURE() << "no stage " << name << " in " << summary.dump();
    return none;
  }

  std::string summary_path() const { return (dir_ / "summary.json").string(); }

  std::string instance_;
  std::filesystem::path dir_;
};

constexpr const char* kPatternAcquire = R"(
[[stage]]
name = "acquire"
source = "pattern"
scene = "testpattern"
width = 64
height = 48
pixel-format = "Mono16"
rate-hz = 0
)";

TEST_F(RunTest, TestPatternThroughAnIdentityFilterArrivesUnchanged) {
  test::Watchdog watchdog(100s);
  const std::string config = write_config(std::string(kPatternAcquire) + "\n" +
                                          test::identity_process_stage("wait-for-consumers = 1   # the check below"));
  test::Child run({test::framering_bin(), "run", "--config", config, "--frames", "400", "--summary-json", summary_path()});
  // An every consumer of the output, attached as soon as the ring exists: every frame it gets
  // must be the sequence pattern of the raw frame it came from (camera_frame_id = raw sequence).
  auto reader = ring::RingReader::attach(instance_, "processed",
                                         {.name = "check", .kind = ring::ConsumerKind::Every, .wait_for_segment = 30s});
  std::uint64_t frames = 0;
  std::uint64_t bad = 0;
  std::uint64_t last_source = 0;
  bool ordered = true;
  while (run.running()) {
    auto frame = reader.read(100ms);
    if (!frame) {
      run.wait(0ms);
      continue;
    }
    EXPECT_FALSE(frame->gap.has_value());
    if (check_sequence_pattern(frame->pixels,
                               {frame->width, frame->height, frame->pixel_format, frame->stride_bytes},
                               frame->camera_frame_id)) {
      ++bad;
    }
    if (frames > 0 && frame->camera_frame_id != last_source + 1) ordered = false;
    last_source = frame->camera_frame_id;
    ASSERT_TRUE(reader.release(*frame));
    ++frames;
  }
  ASSERT_EQ(run.wait(30s), 0) << run.err();
  EXPECT_EQ(run.exit_code(), 0) << run.err();
  EXPECT_GT(frames, 0U);
  EXPECT_EQ(bad, 0U) << "frames that differ from their sequence pattern";
  EXPECT_TRUE(ordered);
  EXPECT_EQ(last_source, 399U) << "the last raw frame reached the output";
  const auto s = summary();
  EXPECT_EQ(s["exit_code"], 0);
  EXPECT_EQ(stage(s, "acquire")["frames"], 400);
  EXPECT_EQ(stage(s, "process")["frames"], 400) << "an every consumer processes every frame";
  EXPECT_EQ(stage(s, "process")["lost"], 0);
  EXPECT_TRUE(ring::Segment::list_rings(instance_).empty()) << "the run removes its rings";
}

TEST_F(RunTest, BandStopRemovesAKnownSinusoid) {
  test::Watchdog watchdog(100s);
  const std::string config = write_config(R"(
[[stage]]
name = "acquire"
source = "pattern"
scene = "grating"
grating-cycles-per-pixel = 0.25
width = 128
height = 96
rate-hz = 0

[[stage]]
name = "process"
mode = "bandstop"
low-cutoff = 0.2    # the stop band, centred on the grating's 0.25 cycles/pixel
high-cutoff = 0.3
consumer = "every"
planner = "estimate"
)");
  test::Child run({test::framering_bin(), "run", "--config", config, "--frames", "50", "--keep-rings"});
  ASSERT_EQ(run.wait(60s), 0) << run.err();
  ASSERT_EQ(run.exit_code(), 0) << run.err();
  auto raw = ring::RingReader::attach(instance_, "raw", {.name = "check-raw"});
  auto processed = ring::RingReader::attach(instance_, "processed", {.name = "check-out"});
  auto spread = [](const ring::FrameView& f) {
    double lo = 65535, hi = 0;
    for (std::uint32_t y = 8; y + 8 < f.height; ++y) {  // away from the wrap-around edges
      const auto row = f.row<std::uint16_t>(y);
      for (std::uint32_t x = 8; x + 8 < f.width; ++x) {
        lo = std::min<double>(lo, row[x]);
        hi = std::max<double>(hi, row[x]);
      }
    }
    return hi - lo;
  };
  auto in = raw.read(1s);
  auto out = processed.read(1s);
  ASSERT_TRUE(in && out);
  EXPECT_GT(spread(*in), 20000.0) << "the grating is in the raw frame";
  EXPECT_LT(spread(*out), 0.01 * spread(*in)) << "and gone from the processed one";
}

TEST_F(RunTest, StageKilledMidRunIsRestartedAndTheOthersGoOn) {
  test::Watchdog watchdog(100s);
  const std::string config = write_config(std::string(kPatternAcquire) + R"(
[[stage]]
name = "process"
mode = "identity"
planner = "estimate"
)");
  test::Child run({test::framering_bin(), "run", "--config", config, "--summary-json", summary_path()});
  auto process_pid = [&]() -> std::uint32_t {
    try {
      const auto status = ring::read_status(ring::Segment::open(instance_, "processed"));
      return status.producer_alive ? status.producer_pid : 0;
    } catch (const Error&) {
      return 0;
    }
  };
  ASSERT_TRUE(test::wait_until([&] { return process_pid() != 0; }, 30s)) << run.err();
  const std::uint32_t first = process_pid();
  ::kill(static_cast<pid_t>(first), SIGKILL);
  ASSERT_TRUE(test::wait_until([&] { return process_pid() != 0 && process_pid() != first; }, 30s)) << run.err();
  const auto raw = ring::read_status(ring::Segment::open(instance_, "raw"));
  EXPECT_TRUE(raw.producer_alive) << "acquire was not taken down";
  run.signal(SIGINT);
  ASSERT_EQ(run.wait(60s), 0) << run.err();
  EXPECT_EQ(run.exit_code(), 0) << run.err();
  const auto s = summary();
  EXPECT_EQ(stage(s, "process")["restarts"], 1);
  EXPECT_EQ(stage(s, "acquire")["restarts"], 0);
  EXPECT_NE(run.err().find("died: signal 9"), std::string::npos) << run.err();
}

TEST_F(RunTest, SigtermStopsEveryStageAndRemovesTheRings) {
  test::Watchdog watchdog(100s);
  const std::string config = write_config(std::string(kPatternAcquire));
  test::Child run({test::framering_bin(), "run", "--config", config});
  ASSERT_TRUE(test::wait_until([&] { return !ring::Segment::list_rings(instance_).empty(); }, 30s)) << run.err();
  run.signal(SIGTERM);
  ASSERT_EQ(run.wait(60s), 0) << run.err();
  EXPECT_EQ(run.exit_code(), 0) << run.err();
  EXPECT_TRUE(ring::Segment::list_rings(instance_).empty());
  EXPECT_NE(run.err().find("run summary"), std::string::npos) << run.err();
}

TEST_F(RunTest, BadConfigIsRefusedWithFileLineAndKeyBeforeAnythingStarts) {
  test::Watchdog watchdog(60s);
  const std::string config = write_config(std::string(kPatternAcquire) + "colour = \"red\"\n");
  const auto r = test::run({test::framering_bin(), "run", "--config", config}, 30s);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(config + ":"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("'colour'"), std::string::npos) << r.err;
  EXPECT_TRUE(ring::Segment::list_rings(instance_).empty()) << "nothing was started";
}

TEST_F(RunTest, ConfigNamingAMissingFileIsRefused) {
  test::Watchdog watchdog(60s);
  const std::string config = write_config(R"(
[[stage]]
name = "acquire"
source = "files"
path = "/nonexistent/stack.tif"
)");
  const auto r = test::run({test::framering_bin(), "run", "--config", config}, 30s);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("/nonexistent/stack.tif"), std::string::npos) << r.err;
}

TEST_F(RunTest, BundledConfigsAreAcceptedByTheStagesTheyName) {
  test::Watchdog watchdog(60s);
  const auto builtin = test::run({test::framering_bin(), "run", "--dry-run"}, 30s);
  EXPECT_EQ(builtin.exit_code, 0) << builtin.err;
  EXPECT_NE(builtin.out.find("acquire"), std::string::npos) << builtin.out;
  for (const std::string name : {"config/default.toml", "config/video.toml", "examples/python-stage.toml"}) {
    const auto r = test::run({test::framering_bin(), "run", "--dry-run", "--config", test::source_dir() + "/" + name}, 30s);
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
  }
}

TEST_F(RunTest, SecondRunOnALiveInstanceIsRefused) {
  test::Watchdog watchdog(100s);
  const std::string config = write_config(std::string(kPatternAcquire));
  test::Child first({test::framering_bin(), "run", "--config", config});
  ASSERT_TRUE(test::wait_until(
      [&] {
        try {
          return ring::read_status(ring::Segment::open(instance_, "raw")).producer_alive;
        } catch (const Error&) {
          return false;
        }
      },
      30s));
  const auto second = test::run({test::framering_bin(), "run", "--config", config}, 30s);
  EXPECT_EQ(second.exit_code, 2);
  EXPECT_NE(second.err.find("already running"), std::string::npos) << second.err;
  first.signal(SIGINT);
  ASSERT_EQ(first.wait(60s), 0);
  EXPECT_EQ(first.exit_code(), 0) << first.err();
}

// Any program as a stage: it gets the documented environment (docs/stages.md), and is
// supervised like a built-in one: started, restarted after a crash, stopped at the end.
TEST_F(RunTest, ACommandStageGetsTheStageEnvironmentAndIsRestartedAfterACrash) {
  test::Watchdog watchdog(100s);
  const std::string env_file = (dir_ / "env.txt").string();
  const std::string flag = (dir_ / "crashed-once").string();
  const std::string config = write_config(std::string(kPatternAcquire) + fmt::format(R"(
[[stage]]
name = "watcher"
command = ["/bin/sh", "-c", "env | grep ^FRAMERING_ | sort > \"$0\"; if [ ! -e \"$1\" ]; then touch \"$1\"; kill -9 $$; fi; exec sleep 600", "{}", "{}"]
consumes = [{{ ring = "raw", kind = "newest" }}]
produces = "watched"
)",
                                                                                     env_file, flag));
  test::Child run({test::framering_bin(), "run", "--config", config, "--summary-json", summary_path()});
  ASSERT_TRUE(test::wait_until([&] { return run.err().find("started watcher") != std::string::npos &&
                                            run.err().find("restart 1") != std::string::npos; },
                               30s))
      << run.err();
  ASSERT_TRUE(test::wait_until([&] { return std::filesystem::exists(flag) && std::filesystem::file_size(env_file) > 0; }, 30s));
  run.signal(SIGTERM);
  ASSERT_NE(run.wait(60s), -1) << run.err();
  EXPECT_EQ(run.exit_code(), 0) << run.err();
  std::ifstream in(env_file);
  const std::string env((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(env.find("FRAMERING_INSTANCE=" + instance_ + "\n"), std::string::npos) << env;
  EXPECT_NE(env.find("FRAMERING_STAGE=watcher\n"), std::string::npos) << env;
  EXPECT_NE(env.find("FRAMERING_CONSUMES=raw:newest\n"), std::string::npos) << env;
  EXPECT_NE(env.find("FRAMERING_PRODUCES=watched\n"), std::string::npos) << env;
  EXPECT_NE(env.find("FRAMERING_LOG_LEVEL=info\n"), std::string::npos) << env;
  EXPECT_NE(env.find(fmt::format("FRAMERING_SUPERVISOR_PID={}\n", run.pid())), std::string::npos) << env;
  const auto s = summary();
  EXPECT_EQ(stage(s, "watcher")["restarts"], 1);
  EXPECT_NE(run.err().find("watcher (pid"), std::string::npos);
}

// A Python stage (examples/frame_stats.py, a newest consumer written against python/) in a
// bounded run: its rows are the sequence pattern's statistics of the frames it took.
TEST_F(RunTest, APythonStageReadsFramesUnderTheSupervisorAndItsCountersAreItsOwn) {
  test::Watchdog watchdog(100s);
  const std::string csv = (dir_ / "stats.csv").string();
  std::string acquire = kPatternAcquire;
  acquire.replace(acquire.find("rate-hz = 0"), 11, "rate-hz = 200");  // sequences stay far below the 16-bit wrap
  const std::string config = write_config(acquire + fmt::format(R"(
[[stage]]
name = "stats"
command = ["/usr/bin/python3", "{}/examples/frame_stats.py", "{}"]
consumes = [{{ ring = "raw", kind = "newest" }}]
)",
                                                                                     test::source_dir(), csv));
  test::use_this_builds_python_package();
  test::Child run({test::framering_bin(), "run", "--config", config, "--summary-json", summary_path()});
  ASSERT_TRUE(test::wait_until(
      [&] {
        std::ifstream in(csv);
        return std::count(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>(), '\n') > 20;
      },
      60s))
      << run.err();
  run.signal(SIGTERM);
  ASSERT_NE(run.wait(60s), -1) << run.err();
  EXPECT_EQ(run.exit_code(), 0) << run.err();
  std::ifstream in(csv);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "sequence,camera_frame_id,mean,min,max");
  std::uint64_t rows = 0;
  while (std::getline(in, line)) {
    std::uint64_t sequence = 0;
    std::uint64_t camera = 0;
    double mean = 0;
    unsigned low = 0;
    unsigned high = 0;
    ASSERT_EQ(std::sscanf(line.c_str(), "%lu,%lu,%lf,%u,%u", &sequence, &camera, &mean, &low, &high), 5) << line;
    // 64x48 sequence pattern: pixel = sequence + x + 3y, so min = sequence, max = sequence + 63 + 141.
    EXPECT_EQ(low, sequence) << line;
    EXPECT_EQ(high, sequence + 63 + 3 * 47) << line;
    EXPECT_NEAR(mean, static_cast<double>(sequence) + 31.5 + 3 * 23.5, 1e-3) << line;
    ++rows;
  }
  EXPECT_GE(rows, 20U) << "the wait saw 21 lines: the header and 20 rows";
  const auto s = summary();
  EXPECT_GE(stage(s, "stats")["frames"].get<std::uint64_t>(), rows) << "its reads are counted under its name";
}

}  // namespace
}  // namespace framering
