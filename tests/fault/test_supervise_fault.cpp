// `framering run` at its worst moments, with the real binary and real processes: a stop while
// the recorder waits out its restart delay, the supervisor SIGKILLed while the recorder is dead
// and a fresh run started on the same pipeline, a recorder killed again and again, a producer
// held up by a stopped recorder. Each recording is read back with tifffile and every page
// checked against the sequence pattern of its sequence; the ring's own counters are the
// reference.
// Tests wait on the rings' state and the processes' lives, never on time.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "framering/common/process_identity.hpp"
#include "framering/common/segment.hpp"
#include "recording_check.hpp"
#include "ring_process.hpp"
#include "test_support.hpp"

namespace framering {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

class SuperviseFault : public ::testing::Test {
 protected:
  void SetUp() override { instance_ = test::unique_instance(); }
  void TearDown() override { test::remove_instance(instance_); }

  // testpattern 64x48 at `rate_hz` (0 = flat out) into `raw` (16 slots), recorded into dest/ by
  // `record`, then `more_stages`.
  std::string write_config(const std::string& restart, const std::string& record_extra = "",
                           const std::string& more_stages = "", double rate_hz = 200) {
    const fs::path path = dir_.path() / "pipeline.toml";
    std::ofstream(path) << fmt::format("instance = \"{}\"\n[restart]\n{}\n", instance_, restart)
                        << test::pattern_acquire_stage(rate_hz)
                        << fmt::format("[[stage]]\nname = \"record\"\ndest = \"{}\"\nreport-interval-s = 0\n{}\n\n",
                                       dest().string(), record_extra)
                        << more_stages;
    return path.string();
  }

  // SIGKILLs `run` once `consumer` (an every consumer of raw) has read 100 frames and lags at
  // least 4 behind acquire, and waits until PR_SET_PDEATHSIG has ended both.
  void kill_run_behind(test::Child& run, const std::string& consumer) const {
    pid_t lagging = 0;
    pid_t acquire = 0;
    ASSERT_TRUE(test::wait_until(
        [&] {
          const auto status = test::ring_status(instance_);
          const auto c = status ? test::consumer_named(*status, consumer) : std::nullopt;
          if (!c || !c->alive || c->frames_read < 100 || c->lag < 4) return false;
          lagging = static_cast<pid_t>(c->pid);
          acquire = static_cast<pid_t>(status->producer_pid);
          return true;
        },
        30s))
        << consumer << " lags behind acquire: " << run.err();
    run.signal(SIGKILL);
    ASSERT_NE(run.wait(30s), -1);
    ASSERT_TRUE(test::wait_until([&] { return !is_process_alive(lagging, 0) && !is_process_alive(acquire, 0); }, 30s))
        << "PR_SET_PDEATHSIG stops acquire and " << consumer;
  }

  [[nodiscard]] fs::path dest() const { return dir_.path() / "recordings"; }
  [[nodiscard]] std::string summary_path() const { return (dir_.path() / "summary.json").string(); }

  [[nodiscard]] json summary() const {
    std::ifstream in(summary_path());
    return json::parse(in, nullptr, false);
  }

  static const json& stage(const json& summary, const std::string& name) {
    for (const auto& s : summary["stages"]) {
      if (s["name"] == name) return s;
    }
    static const json none;
    ADD_FAILURE() << "no stage " << name << " in " << summary.dump();
    return none;
  }

  [[nodiscard]] std::optional<ring::ConsumerStatus> recorder() const {
    const auto status = test::ring_status(instance_);
    if (!status) return std::nullopt;
    return test::consumer_named(*status, "record");
  }

  // Waits until the recorder has read at least `frames` and returns its pid.
  pid_t wait_recording(std::uint64_t frames) const {
    pid_t pid = 0;
    const bool ok = test::wait_until(
        [&] {
          const auto c = recorder();
          if (!c || !c->alive || c->state != ring::ConsumerState::Active || c->frames_read < frames) return false;
          pid = static_cast<pid_t>(c->pid);
          return true;
        },
        30s);
    EXPECT_TRUE(ok) << "the recorder never read " << frames << " frames";
    return pid;
  }

  // Kills the recorder and waits until its entry is seen dead (its restart not yet attached).
  void kill_recorder(pid_t pid) const {
    ASSERT_GT(pid, 0);
    ::kill(pid, SIGKILL);
    ASSERT_TRUE(test::wait_until([&] { return !is_process_alive(pid, 0); }, 10s));
  }

  // The one recording folder under dest().
  [[nodiscard]] fs::path recording_folder() const {
    std::vector<fs::path> found;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dest(), ec)) {
      if (e.is_directory()) found.push_back(e.path());
    }
    EXPECT_EQ(found.size(), 1U) << "recordings in " << dest();
    return found.empty() ? fs::path{} : found.front();
  }

  // Every sequence 0..published-1 recorded exactly once, in order, each page the sequence
  // pattern of its sequence; the manifest says complete; `framering inspect` agrees (exit 0).
  void expect_every_frame_recorded(std::uint64_t published) const {
    const fs::path folder = recording_folder();
    ASSERT_FALSE(folder.empty());
    const json check = test::tifffile_check(folder, dir_.path());
    std::vector<std::uint64_t> expected(published);
    for (std::uint64_t s = 0; s < published; ++s) expected[s] = s;
    EXPECT_EQ(check["sequences"].get<std::vector<std::uint64_t>>(), expected);
    EXPECT_TRUE(check["bad"].empty()) << check["bad"].dump();
    std::ifstream in(folder / "manifest.json");
    const json manifest = json::parse(in, nullptr, false);
    ASSERT_TRUE(manifest.is_object()) << "no manifest in " << folder;
    EXPECT_EQ(manifest["complete"], true) << manifest.dump();
    EXPECT_EQ(manifest["frames_recorded"], published) << manifest.dump();
    const auto inspect = test::run({test::framering_bin(), "inspect", folder.string()}, 60s);
    EXPECT_EQ(inspect.exit_code, 0) << inspect.out << inspect.err;
  }

  test::TempDir dir_;
  std::string instance_;
};

// Issue 10, failure 1: SIGTERM to `run` while the recorder waits out its restart delay. The
// recorder is started at once to drain; every frame is recorded and the run says nothing is lost.
TEST_F(SuperviseFault, StopWhileTheRecorderWaitsToRestartDrainsItFirst) {
  test::Watchdog watchdog(100s);
  // A first restart delay of 3 s (the dead timeout of 20 s caps it at 5 s): the stop comes inside it.
  const std::string config = write_config("backoff_ms = 3000\nbackoff_max_ms = 3000", "dead-timeout-s = 20");
  test::Child run({test::framering_bin(), "run", "--config", config, "--summary-json", summary_path()});
  kill_recorder(wait_recording(20));
  ASSERT_TRUE(test::wait_until([&] { return run.err().find("restarting record in 3000 ms") != std::string::npos; }, 10s))
      << run.err();
  run.signal(SIGTERM);
  ASSERT_NE(run.wait(60s), -1) << run.err();
  EXPECT_EQ(run.exit_code(), 0) << run.err();
  EXPECT_NE(run.err().find("starting record at once to drain"), std::string::npos) << run.err();
  const json s = summary();
  const std::uint64_t published = stage(s, "acquire")["frames"];
  EXPECT_GT(published, 20U);
  EXPECT_EQ(stage(s, "record")["lost"], 0) << s.dump();
  EXPECT_TRUE(s["unrecorded"].empty()) << s.dump();
  expect_every_frame_recorded(published);
  EXPECT_TRUE(ring::Segment::list_rings(instance_).empty()) << "a clean stop removes its rings";
}

// Issue 10, failure 2: the supervisor SIGKILLed while the recorder is dead; a fresh run of the
// same pipeline re-attaches: the producer continues the sequence, the recorder resumes its
// recording (same folder) at its cursor, and nothing in between is lost.
TEST_F(SuperviseFault, AFreshRunAfterTheSupervisorWasKilledContinuesTheSequenceAndTheRecording) {
  test::Watchdog watchdog(120s);
  const std::string config = write_config("backoff_ms = 3000\nbackoff_max_ms = 3000", "dead-timeout-s = 20");
  std::uint64_t published_before = 0;
  std::uint64_t cursor_before = 0;
  {
    test::Child first({test::framering_bin(), "run", "--config", config});
    kill_recorder(wait_recording(20));
    ASSERT_TRUE(
        test::wait_until([&] { return first.err().find("restarting record in") != std::string::npos; }, 10s));
    first.signal(SIGKILL);
    ASSERT_NE(first.wait(30s), -1);
    // PR_SET_PDEATHSIG stops acquire; the dead recorder's place stays in the ring.
    ASSERT_TRUE(test::wait_until(
        [&] {
          const auto status = test::ring_status(instance_);
          return status && !status->producer_alive;
        },
        30s));
    const auto status = test::ring_status(instance_);
    ASSERT_TRUE(status);
    const auto c = test::consumer_named(*status, "record");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->state, ring::ConsumerState::Active);
    published_before = status->published;
    cursor_before = c->cursor;
  }
  ASSERT_GE(published_before, cursor_before);
  test::Child second({test::framering_bin(), "run", "--config", config, "--summary-json", summary_path()});
  ASSERT_TRUE(test::wait_until(
      [&] {
        const auto c = recorder();
        return c && c->alive && c->cursor >= published_before + 50;
      },
      30s))
      << second.err();
  second.signal(SIGTERM);
  ASSERT_NE(second.wait(60s), -1) << second.err();
  EXPECT_EQ(second.exit_code(), 0) << second.err();
  EXPECT_NE(second.err().find("continuing ring raw of an earlier run"), std::string::npos) << second.err();
  const json s = summary();
  const std::uint64_t published = stage(s, "acquire")["frames"];
  // The wait above saw the recorder's cursor at published_before + 50 or later; published is at
  // least that (equal when the recorder is at the producer's head).
  EXPECT_GE(published, published_before + 50) << "the sequence continued";
  expect_every_frame_recorded(published);
}

// Issue 10, failure 3: a recorder killed again and again is always back inside its dead
// timeout (2 s here: its restart delay is capped at 500 ms, however many restarts in a row), so
// the producer never evicts it and no frame is lost.
TEST_F(SuperviseFault, ARecorderKilledSixTimesInARowIsNeverEvicted) {
  test::Watchdog watchdog(120s);
  const std::string config =
      write_config("max_restarts = 10\nbackoff_ms = 200\nbackoff_max_ms = 5000", "dead-timeout-s = 2");
  test::Child run({test::framering_bin(), "run", "--config", config, "--summary-json", summary_path()});
  std::uint64_t cursor = 0;
  for (int i = 0; i < 6; ++i) {
    // Each time once the new recorder has made progress: one that dies again before taking a
    // frame is not back, and the ring counts its dead time on (docs/ring-layout.md, eviction).
    pid_t pid = 0;
    ASSERT_TRUE(test::wait_until(
        [&] {
          const auto c = recorder();
          if (!c || !c->alive || c->cursor < cursor + 10) return false;
          pid = static_cast<pid_t>(c->pid);
          return true;
        },
        30s))
        << run.err();
    cursor = recorder()->cursor;
    kill_recorder(pid);
  }
  ASSERT_TRUE(test::wait_until([&] { return recorder() && recorder()->alive && recorder()->cursor >= cursor + 10; }, 30s));
  run.signal(SIGTERM);
  ASSERT_NE(run.wait(60s), -1) << run.err();
  EXPECT_EQ(run.exit_code(), 0) << run.err();
  const json s = summary();
  EXPECT_EQ(stage(s, "record")["restarts"], 6) << s.dump();
  EXPECT_EQ(stage(s, "record")["lost"], 0) << s.dump();
  EXPECT_EQ(stage(s, "acquire")["rings"]["raw"]["evictions"], 0) << s.dump();
  expect_every_frame_recorded(stage(s, "acquire")["frames"]);
}

// Issue 10, failure 4: time the producer spends held up by an every consumer is reported.
TEST_F(SuperviseFault, TimeTheProducerWasHeldUpByAStoppedRecorderIsInTheSummary) {
  test::Watchdog watchdog(100s);
  const std::string config = write_config("", "dead-timeout-s = 20\nstall-timeout-s = 0");
  test::Child run({test::framering_bin(), "run", "--config", config, "--summary-json", summary_path()});
  const pid_t pid = wait_recording(20);
  ::kill(pid, SIGSTOP);
  ASSERT_TRUE(test::wait_until(
      [&] {
        const auto status = test::ring_status(instance_);
        return status && status->blocked_s > 0.2;
      },
      30s));
  ::kill(pid, SIGCONT);
  run.signal(SIGTERM);
  ASSERT_NE(run.wait(60s), -1) << run.err();
  EXPECT_EQ(run.exit_code(), 0) << run.err();
  const json s = summary();
  EXPECT_GT(stage(s, "acquire")["blocked_s"].get<double>(), 0.2) << s.dump();
  EXPECT_NE(run.err().find("blocked_s"), std::string::npos) << "the summary table has the column";
  expect_every_frame_recorded(stage(s, "acquire")["frames"]);
}

// Found by the SIGKILL campaign (test_run_campaign, seeds 1 and 4): a recorder killed after it
// had taken every frame, with the stop coming before its restart, was left dead: nothing was owed
// in the ring, so the run said "ok, nothing lost", but its recording was never closed (no
// manifest; `framering inspect` says INCOMPLETE). At a stop a dead every consumer is started
// again even when it owes nothing, and stopped only once it holds its place on the ring, so that
// it closes what it writes. The supervisor is SIGSTOPped to hold it between the two events.
TEST_F(SuperviseFault, ARecorderKilledAfterTakingEveryFrameIsStartedAgainAtTheStopToCloseItsRecording) {
  test::Watchdog watchdog(100s);
  const std::string config = write_config("backoff_ms = 3000\nbackoff_max_ms = 3000", "dead-timeout-s = 20");
  test::Child run(
      {test::framering_bin(), "run", "--config", config, "--frames", "400", "--summary-json", summary_path()});
  const pid_t pid = wait_recording(20);
  run.signal(SIGSTOP);  // before acquire's 400 frames (2 s at 200 Hz) are out: the run cannot end meanwhile
  ASSERT_TRUE(test::wait_stopped(run, 10s));
  ASSERT_TRUE(test::wait_until(
      [&] {
        const auto c = recorder();
        return c && c->cursor == 400;
      },
      30s))
      << "the recorder took every frame";
  kill_recorder(pid);
  run.signal(SIGCONT);  // it sees acquire done and the recorder dead (a restart due in 3 s): the stop
  ASSERT_NE(run.wait(60s), -1) << run.err();
  EXPECT_EQ(run.exit_code(), 0) << run.err();
  EXPECT_NE(run.err().find("starting record at once"), std::string::npos) << run.err();
  EXPECT_TRUE(summary()["unrecorded"].empty()) << summary().dump();
  expect_every_frame_recorded(400);
}

// A supervisor killed outright stops acquire and the recorder at the same moment: acquire,
// blocked on the full ring, may still publish the frame whose slot the draining recorder frees.
// The recorder then drains on until acquire has left, so that the frame is recorded too, rather
// than lost without a word (its clean detach leaves nothing owed in the ring). Acquire runs flat
// out, so the ring is full behind the recorder when the supervisor dies.
TEST_F(SuperviseFault, ARecorderStoppedByItsSupervisorsDeathAlsoRecordsTheLastFramesTheProducerPublishes) {
  test::Watchdog watchdog(100s);
  const std::string config = write_config("", "", "", 0);
  test::Child run({test::framering_bin(), "run", "--config", config});
  kill_run_behind(run, "record");
  const auto raw = test::ring_status(instance_);
  ASSERT_TRUE(raw);
  expect_every_frame_recorded(raw->published);
}

// Found by the SIGKILL campaign (test_run_campaign, default seed under load): a supervisor
// killed outright stops all its stages at once (PR_SET_PDEATHSIG), not in order; `process`, an
// every consumer, then left at once, without the frames published before the stop, and detached
// cleanly, so no one ever counted them (processed ended one frame short of raw, "lost 0"). An
// every process drains what was published when the stop came, as the recorder does. Here acquire
// runs flat out, so the ring is full behind process when the supervisor dies: every raw frame
// must still come out processed, the last ones acquire publishes while it stops included.
TEST_F(SuperviseFault, AnEveryProcessStoppedByItsSupervisorsDeathProcessesWhatItOwesFirst) {
  test::Watchdog watchdog(100s);
  const fs::path config = dir_.path() / "process.toml";  // no recorder: process alone holds acquire back
  std::ofstream(config) << fmt::format("instance = \"{}\"\n", instance_) << test::pattern_acquire_stage(0)
                        << test::identity_process_stage();
  test::Child run({test::framering_bin(), "run", "--config", config.string()});
  kill_run_behind(run, "process");
  const auto raw = test::ring_status(instance_);
  const auto processed = test::ring_status(instance_, "processed");
  ASSERT_TRUE(raw && processed);
  EXPECT_EQ(processed->published, raw->published) << "every raw frame published before the stop was processed: "
                                                  << run.err();
}

// A recorder that cannot come back (given up) leaves its frames in the ring: the run lists them
// as owed with exact bounds, exits 3 and keeps the ring; the next run records them.
TEST_F(SuperviseFault, FramesARecorderThatWasGivenUpOwesAreListedAndTheRingIsKeptForTheNextRun) {
  test::Watchdog watchdog(120s);
  const std::string config = write_config("max_restarts = 0", "dead-timeout-s = 60");
  {
    test::Child run({test::framering_bin(), "run", "--config", config, "--summary-json", summary_path()});
    kill_recorder(wait_recording(20));
    ASSERT_TRUE(test::wait_until([&] { return run.err().find("giving up on stage record") != std::string::npos; }, 10s));
    // The producer is held by the dead recorder's place once the ring is full.
    ASSERT_TRUE(test::wait_until(
        [&] {
          const auto status = test::ring_status(instance_);
          const auto c = status ? test::consumer_named(*status, "record") : std::nullopt;
          return c && status->published == c->cursor + 16;
        },
        30s));
    run.signal(SIGTERM);
    ASSERT_NE(run.wait(60s), -1) << run.err();
    EXPECT_EQ(run.exit_code(), 2) << "a stage was given up: " << run.err();
    const json s = summary();
    ASSERT_EQ(s["unrecorded"].size(), 1U) << s.dump();
    const json& owed = s["unrecorded"][0];
    const std::uint64_t published = stage(s, "acquire")["frames"];
    EXPECT_EQ(owed["ring"], "raw");
    EXPECT_EQ(owed["consumer"], "record");
    EXPECT_EQ(owed["last"], published - 1);
    EXPECT_EQ(owed["count"], 16);
    EXPECT_EQ(owed["held"], true);
    EXPECT_EQ(stage(s, "record")["owed"], 16);
    EXPECT_NE(run.err().find("OWED 16 frames"), std::string::npos) << run.err();
    EXPECT_EQ(ring::Segment::list_rings(instance_), std::vector<std::string>{"raw"}) << "the ring is kept";
  }
  const auto inspect = test::run({test::framering_bin(), "inspect", recording_folder().string()}, 60s);
  EXPECT_EQ(inspect.exit_code, 3) << "an unclosed recording is never complete: " << inspect.out;
  test::Child again({test::framering_bin(), "run", "--config", config, "--summary-json", summary_path()});
  ASSERT_TRUE(test::wait_until(
      [&] {
        const auto c = recorder();
        return c && c->alive && c->frames_read > 40;
      },
      30s))
      << again.err();
  again.signal(SIGTERM);
  ASSERT_NE(again.wait(60s), -1) << again.err();
  EXPECT_EQ(again.exit_code(), 0) << again.err();
  expect_every_frame_recorded(stage(summary(), "acquire")["frames"]);
}

// Two supervisors never run one instance; the kernel frees the lock when one dies, however.
TEST_F(SuperviseFault, ASecondRunIsRefusedWhileTheFirstLivesAndAcceptedOnceItIsKilled) {
  test::Watchdog watchdog(100s);
  const std::string config = write_config("");
  test::Child first({test::framering_bin(), "run", "--config", config});
  const pid_t first_recorder = wait_recording(5);
  const auto refused = test::run({test::framering_bin(), "run", "--config", config}, 30s);
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find(fmt::format("pid {}", first.pid())), std::string::npos) << refused.err;
  first.signal(SIGKILL);
  ASSERT_NE(first.wait(30s), -1);
  test::Child second({test::framering_bin(), "run", "--config", config, "--summary-json", summary_path()});
  ASSERT_TRUE(test::wait_until(
      [&] {
        const auto c = recorder();
        return c && c->alive && c->frames_read > 20 && c->pid != static_cast<std::uint32_t>(first_recorder);
      },
      30s))
      << second.err();
  second.signal(SIGTERM);
  ASSERT_NE(second.wait(60s), -1) << second.err();
  EXPECT_EQ(second.exit_code(), 0) << second.err();
}

}  // namespace
}  // namespace framering
