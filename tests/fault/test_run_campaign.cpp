// A seeded randomized SIGKILL campaign against `framering run`: acquire -> process (every
// consumer of raw) -> display (newest consumer of processed, headless), and record (every
// consumer of raw). About twenty SIGKILLs, drawn with std::mt19937, hit every stage and the
// supervisor itself (a fresh `run` of the same pipeline then re-attaches). After each kill the
// test waits, on the rings' state, for the killed stage to be back (a new live pid that makes
// progress), then for a random number of further frames, and kills again. A quarter of the steps
// kill twice: a stage, then the supervisor as soon as it has seen the death; or a supervisor,
// then the fresh run before its stages are back. At the end a SIGTERM stops the run (half the
// campaigns also kill an every consumer during that stop) and the test checks what users rely on:
//   - every recorded page is the sequence pattern of the sequence its index row names, each
//     sequence is recorded once, in increasing order per recording folder (a supervisor killed
//     while the recorder lives ends that folder: the recorder drains and closes on the SIGTERM of
//     PR_SET_PDEATHSIG, and the next run's recorder opens a new one);
//   - every sequence the producer published is recorded, or in a gap a manifest names, or in the
//     final summary's "unrecorded": nothing missing without a word (and here nothing is missing);
//   - every recording folder is closed, and `framering inspect` calls it complete;
//   - process passed every raw frame on (identity: processed published == raw published);
//   - no process of the instance outlives the final run, and a clean stop leaves no segment;
//   - no stage died but of our SIGKILLs, nor reported a sanitizer error or a broken invariant.
//
// FRAMERING_CAMPAIGN_SEED=<n> replays another campaign; the seed is in every failure message
// and the journal of kills is printed.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
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
using Clock = std::chrono::steady_clock;

constexpr std::uint32_t kDefaultSeed = 20240611;
constexpr int kSteps = 17;  // a quarter of them doubled: about 20 SIGKILLs
constexpr auto kCampaignBudget = 90s;     // the steps stop here even if fewer than kSteps were made
constexpr auto kBackDeadline = 30s;       // a killed stage (or a whole run) is back within this
constexpr std::uint64_t kMaxExtraFrames = 100;  // frames between a recovery and the next kill: 0..0.5 s

enum class Target { Acquire, Process, Display, Record, Supervisor };
constexpr std::array kStages{Target::Acquire, Target::Process, Target::Display, Target::Record};

// One step of the campaign. `twice`: a stage, then its supervisor as soon as it has seen the
// stage die; or a supervisor, then the fresh run as soon as it has started its stages.
struct Kill {
  Target target;
  bool twice = false;
};

std::string_view name_of(Target t) {
  switch (t) {
    case Target::Acquire: return "acquire";
    case Target::Process: return "process";
    case Target::Display: return "display";
    case Target::Record: return "record";
    case Target::Supervisor: return "supervisor";
  }
  return "?";
}

std::uint32_t campaign_seed() {
  const char* text = std::getenv("FRAMERING_CAMPAIGN_SEED");
  if (text == nullptr || *text == '\0') return kDefaultSeed;
  return static_cast<std::uint32_t>(std::strtoul(text, nullptr, 10));
}

// Polls `condition` every 5 ms until it holds or `deadline` passes (each poll opens the rings
// and reads /proc for every participant: 1 ms would cost the pipeline CPU on a small machine).
bool poll_until(const std::function<bool()>& condition, Clock::time_point deadline) {
  for (;;) {
    if (condition()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);  // polling other processes' state, with a deadline
  }
}

// Pids of processes whose environment names this instance (FRAMERING_INSTANCE, the stage
// environment every supervised stage gets): stages, whether or not they reached a ring.
std::vector<pid_t> processes_of_instance(const std::string& instance) {
  const std::string wanted = std::string("FRAMERING_INSTANCE=") + instance;
  std::vector<pid_t> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
    std::ifstream in(entry.path() / "environ", std::ios::binary);
    const std::string env((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::size_t start = 0;
    while (start < env.size()) {
      const std::size_t end = std::min(env.find('\0', start), env.size());
      if (env.compare(start, end - start, wanted) == 0) {
        const pid_t pid = std::stoi(name);
        if (is_process_alive(pid, 0)) found.push_back(pid);
        break;
      }
      start = end + 1;
    }
  }
  return found;
}

// Inclusive ranges of sequences, printed compactly.
std::string ranges_text(const std::vector<std::uint64_t>& sorted) {
  std::string out;
  for (std::size_t i = 0; i < sorted.size();) {
    std::size_t j = i;
    while (j + 1 < sorted.size() && sorted[j + 1] == sorted[j] + 1) ++j;
    out += i == j ? fmt::format("{} ", sorted[i]) : fmt::format("[{}, {}] ", sorted[i], sorted[j]);
    i = j + 1;
  }
  return out;
}

class RunCampaign : public ::testing::Test {
 protected:
  void SetUp() override { instance_ = test::unique_instance(); }
  void TearDown() override {
    if (HasFailure()) {
      // Each run's stderr holds its stages' too, also what they wrote after a SIGKILL of the run.
      for (std::size_t i = 0; i < runs_.size(); ++i) {
        std::fprintf(stderr, "---- run %zu, stderr ----\n%s\n", i + 1, runs_[i]->err().c_str());
      }
    }
    std::fprintf(stderr, "---- campaign journal (seed %u) ----\n%s", seed_, journal_.c_str());
    if (!runs_.empty() && run().running()) {  // a test that ended early: stop its run in order
      run().signal(SIGTERM);
      (void)run().wait(60s);
    }
    test::remove_instance(instance_);
  }

  // tests/fault/campaign_pipeline.toml, filled in.
  std::string write_config() {
    std::ifstream in(fs::path(test::source_dir()) / "tests/fault/campaign_pipeline.toml");
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_FALSE(text.empty()) << "tests/fault/campaign_pipeline.toml not found under " << test::source_dir();
    // Restarts: max_restarts far above what ~20 kills over 5 targets can reach in a row; the
    // recorder's delay is capped at a quarter of its 5 s dead timeout, process's at a quarter of
    // the default 2 s, so both are always back before the producer would evict them.
    const std::string restart = "max_restarts = 50\nbackoff_ms = 100\nbackoff_max_ms = 4000\nhealthy_after_ms = 5000";
    const fs::path path = dir_.path() / "pipeline.toml";
    std::ofstream(path) << fmt::format(fmt::runtime(text), fmt::arg("instance", instance_),
                                       fmt::arg("restart", restart),
                                       fmt::arg("snapshots", (dir_.path() / "snapshots").string()),
                                       fmt::arg("recordings", dest().string()), fmt::arg("record_dead_timeout_s", 5));
    return path.string();
  }

  [[nodiscard]] fs::path dest() const { return dir_.path() / "recordings"; }

  void note(const std::string& line) {
    const double t = std::chrono::duration<double>(Clock::now() - start_).count();
    journal_ += fmt::format("{:7.2f} s  {}\n", t, line);
  }

  void start_run() {
    summary_path_ = (dir_.path() / fmt::format("summary-{}.json", runs_.size() + 1)).string();
    runs_.push_back(std::make_unique<test::Child>(
        std::vector<std::string>{test::framering_bin(), "run", "--config", config_, "--summary-json", summary_path_}));
    remember(run().pid());
    note(fmt::format("run {} started (pid {})", runs_.size(), run().pid()));
  }

  // The current `framering run` (the earlier ones, all reaped, are kept for their logs).
  test::Child& run() { return *runs_.back(); }

  // A pid seen as a participant (or a supervisor): checked for life at the end.
  void remember(pid_t pid) {
    if (pid <= 0 || pids_.contains(pid)) return;
    const std::uint64_t ticks = process_start_ticks(pid);
    if (ticks != 0) pids_[pid] = ticks;
  }

  // The process running `stage` now (alive, holding its place on its ring) and its progress
  // counter: frames published (acquire) or read (the consumers).
  struct Running {
    pid_t pid = 0;
    std::uint64_t progress = 0;
  };
  std::optional<Running> running(Target stage) {
    const bool on_processed = stage == Target::Display;
    const auto status = test::ring_status(instance_, on_processed ? "processed" : "raw");
    if (!status) return std::nullopt;
    for (const auto& c : status->consumers) {
      if (c.alive) remember(static_cast<pid_t>(c.pid));
    }
    if (status->producer_alive) remember(static_cast<pid_t>(status->producer_pid));
    if (stage == Target::Acquire) {
      if (!status->producer_alive) return std::nullopt;
      return Running{static_cast<pid_t>(status->producer_pid), status->published};
    }
    const auto c = test::consumer_named(*status, name_of(stage));
    if (!c || !c->alive || c->state != ring::ConsumerState::Active) return std::nullopt;
    return Running{static_cast<pid_t>(c->pid), c->frames_read};
  }

  [[nodiscard]] std::uint64_t published() const {
    const auto status = test::ring_status(instance_, "raw");
    return status ? status->published : 0;
  }

  // Waits until `stage` runs in a process that is none of `not_these` and has made progress
  // since it was first seen: the stage is back, not merely started. Returns its pid, or 0.
  pid_t wait_back(Target stage, const std::set<pid_t>& not_these, Clock::time_point deadline) {
    Running first;
    pid_t back = 0;
    poll_until(
        [&] {
          if (run().wait(0ms) != -1) return true;  // the run ended: nothing comes back
          const auto now = running(stage);
          if (!now || not_these.contains(now->pid)) return false;
          if (now->pid != first.pid) {
            first = *now;
            return false;
          }
          if (now->progress <= first.progress) return false;
          back = now->pid;
          return true;
        },
        deadline);
    return back;
  }

  // The pids of all four stages once each is back (per wait_back); empty when one is not.
  std::map<Target, pid_t> wait_all_back(const std::set<pid_t>& not_these, Clock::time_point deadline) {
    std::map<Target, pid_t> pids;
    for (Target stage : kStages) {
      const pid_t pid = wait_back(stage, not_these, deadline);
      if (pid == 0) {
        ADD_FAILURE() << name_of(stage) << " is not back (running and making progress) within the deadline; "
                      << run().err();
        return {};
      }
      pids[stage] = pid;
    }
    return pids;
  }

  // SIGKILLs the supervisor, reaps it and starts a fresh run of the same pipeline.
  void kill_supervisor(const std::string& why) {
    note(fmt::format("SIGKILL supervisor pid {}{} (raw published {})", run().pid(), why, published()));
    run().signal(SIGKILL);
    ++sigkills_;
    ASSERT_NE(run().wait(30s), -1) << "the SIGKILLed supervisor was not reaped";
    start_run();
  }

  // One step of the campaign and the wait until everything is back. False when something is
  // not back in time.
  bool kill_and_wait_back(const Kill& kill, std::map<Target, pid_t>& pids) {
    const auto deadline = Clock::now() + kBackDeadline;
    std::set<pid_t> old;
    for (const auto& [stage, pid] : pids) old.insert(pid);
    if (kill.target != Target::Supervisor) {
      const pid_t victim = pids[kill.target];
      note(fmt::format("SIGKILL {} pid {} (raw published {})", name_of(kill.target), victim, published()));
      ::kill(victim, SIGKILL);
      ++sigkills_;
      if (!kill.twice) {
        const pid_t back = wait_back(kill.target, {victim}, deadline);
        if (back == 0) {
          ADD_FAILURE() << name_of(kill.target) << " (pid " << victim << " killed) is not back within "
                        << kBackDeadline.count() << " s";
          return false;
        }
        pids[kill.target] = back;
        note(fmt::format("  {} is back as pid {} (raw published {})", name_of(kill.target), back, published()));
        return true;
      }
      // The supervisor, as soon as it has seen the stage die (its restart pending, or just made).
      const std::string died = fmt::format("run: {} (pid {}) died", name_of(kill.target), victim);
      if (!poll_until([&] { return run().err().find(died) != std::string::npos; }, deadline)) {
        ADD_FAILURE() << "the supervisor never saw " << name_of(kill.target) << " die: " << run().err();
        return false;
      }
      kill_supervisor(fmt::format(" right after it saw {} die", name_of(kill.target)));
    } else {
      kill_supervisor("");
      if (kill.twice) {
        // The fresh run, as soon as it has started all its stages (before they are back).
        if (!poll_until([&] { return run().err().find("run: started record") != std::string::npos; }, deadline)) {
          ADD_FAILURE() << "run " << runs_.size() << " never started its stages: " << run().err();
          return false;
        }
        kill_supervisor(" right after it started its stages");
      }
    }
    pids = wait_all_back(old, deadline);
    if (pids.empty()) return false;
    note(fmt::format("  run {} is back: acquire {}, process {}, display {}, record {} (raw published {})", runs_.size(),
                     pids[Target::Acquire], pids[Target::Process], pids[Target::Display], pids[Target::Record],
                     published()));
    return true;
  }

  // The plan: each target once, the rest drawn at random, in a shuffled order; a quarter of
  // the steps are doubled (a stage, then the supervisor that saw it die; or a supervisor, then
  // the fresh run before its stages are back).
  static std::vector<Kill> draw_kills(std::mt19937& rng) {
    std::vector<Target> targets{Target::Acquire, Target::Process, Target::Display, Target::Record, Target::Supervisor};
    std::uniform_int_distribution<int> any(0, 4);
    while (targets.size() < static_cast<std::size_t>(kSteps)) targets.push_back(static_cast<Target>(any(rng)));
    std::shuffle(targets.begin(), targets.end(), rng);
    std::bernoulli_distribution twice(0.25);
    std::vector<Kill> kills;
    for (Target t : targets) kills.push_back({t, twice(rng)});
    return kills;
  }

  test::TempDir dir_;
  std::string instance_;
  std::string config_;
  std::uint32_t seed_ = 0;
  Clock::time_point start_ = Clock::now();
  std::vector<std::unique_ptr<test::Child>> runs_;
  std::string summary_path_;
  std::map<pid_t, std::uint64_t> pids_;  // every participant and supervisor seen, with its start time
  std::string journal_;
  int sigkills_ = 0;
};

TEST_F(RunCampaign, RandomSigkillsOfEveryStageAndTheSupervisorLoseNoFrameAndLeaveNothingBehind) {
  test::Watchdog watchdog(280s);
  seed_ = campaign_seed();
  SCOPED_TRACE(fmt::format("campaign seed {} (replay: FRAMERING_CAMPAIGN_SEED={})", seed_, seed_));
  std::mt19937 rng(seed_);
  const std::vector<Kill> kills = draw_kills(rng);
  config_ = write_config();
  start_ = Clock::now();

  start_run();
  std::map<Target, pid_t> pids = wait_all_back({}, Clock::now() + kBackDeadline);
  ASSERT_FALSE(pids.empty());
  note(fmt::format("all stages running (raw published {})", published()));

  // The campaign.
  const auto budget_end = Clock::now() + kCampaignBudget;
  std::uniform_int_distribution<std::uint64_t> extra_frames(0, kMaxExtraFrames);
  int made = 0;
  for (const Kill& kill : kills) {
    if (Clock::now() >= budget_end) break;
    // A random moment: this many more frames after the last recovery (a condition, not a sleep).
    const std::uint64_t until = published() + extra_frames(rng);
    ASSERT_TRUE(poll_until([&] { return published() >= until; }, Clock::now() + kBackDeadline))
        << "the producer did not publish on: " << run().err();
    ++made;
    ASSERT_TRUE(kill_and_wait_back(kill, pids)) << "step " << made << " of " << kills.size();
  }
  EXPECT_EQ(made, kSteps) << "the campaign ran out of its " << kCampaignBudget.count() << " s budget";

  // Some recording after the last recovery, then a clean stop.
  const auto recorded_before = running(Target::Record);
  ASSERT_TRUE(recorded_before);
  ASSERT_TRUE(poll_until(
      [&] {
        const auto r = running(Target::Record);
        return r && r->progress >= recorded_before->progress + 50;
      },
      Clock::now() + kBackDeadline));
  note(fmt::format("SIGTERM run {} (raw published {})", runs_.size(), published()));
  run().signal(SIGTERM);
  // Half the campaigns also kill an every consumer during the stop: the supervisor must start it
  // again at once, to drain what it owes and to close what it writes.
  const int at_stop = std::uniform_int_distribution<int>(0, 3)(rng);
  if (at_stop < 2) {
    const Target victim = at_stop == 0 ? Target::Record : Target::Process;
    ASSERT_TRUE(poll_until([&] { return run().err().find("run: stopping") != std::string::npos; },
                           Clock::now() + kBackDeadline));
    if (is_process_alive(pids[victim], pids_[pids[victim]])) {  // not already stopped (and its pid reused)
      note(fmt::format("SIGKILL {} pid {} during the stop (raw published {})", name_of(victim), pids[victim],
                       published()));
      ::kill(pids[victim], SIGKILL);
      ++sigkills_;
    }
  }
  ASSERT_NE(run().wait(120s), -1) << "the final run did not stop: " << run().err();
  const int exit_code = run().exit_code();
  const std::string final_log = run().err();
  const double campaign_s = std::chrono::duration<double>(Clock::now() - start_).count();
  note(fmt::format("run {} exited with {} after {:.1f} s of campaign ({} steps, {} SIGKILLs)", runs_.size(), exit_code,
                   campaign_s, made, sigkills_));

  // No process of this instance outlives the final run: neither one seen on a ring (or a
  // supervisor), nor any other with the instance's stage environment.
  for (const auto& [pid, ticks] : pids_) {
    EXPECT_FALSE(is_process_alive(pid, ticks)) << "pid " << pid << " of the campaign is still alive";
  }
  const auto leftover = processes_of_instance(instance_);
  EXPECT_TRUE(leftover.empty()) << "processes of instance " << instance_ << " still alive: "
                                << fmt::format("{}", fmt::join(leftover, ", "));

  // Every death a supervisor saw was one of ours (SIGKILL); no stage ended saying it lost frames,
  // reported a broken invariant (critical) or a sanitizer error (ASan and UBSan builds).
  auto has = [](const std::string& line, const char* text) { return line.find(text) != std::string::npos; };
  for (std::size_t i = 0; i < runs_.size(); ++i) {
    std::istringstream lines(runs_[i]->err());
    for (std::string line; std::getline(lines, line);) {
      const bool bad = (has(line, ") died: ") && !has(line, "died: signal 9 (")) || has(line, "it lost frames") ||
                       has(line, " critical ") || has(line, "AddressSanitizer") || has(line, "runtime error:");
      EXPECT_FALSE(bad) << "run " << i + 1 << ": " << line;
    }
  }

  std::ifstream summary_in(summary_path_);
  const json summary = json::parse(summary_in, nullptr, false);
  ASSERT_TRUE(summary.is_object()) << "no summary from the final run: " << final_log;
  auto stage = [&](const std::string& name) -> json {
    for (const auto& s : summary["stages"]) {
      if (s["name"] == name) return s;
    }
    ADD_FAILURE() << "no stage " << name << " in " << summary.dump();
    return json::object();
  };
  const std::uint64_t raw_published = stage("acquire")["rings"]["raw"]["published"];
  note(fmt::format("summary: raw published {}, processed published {}, unrecorded {}", raw_published,
                   stage("process")["rings"]["processed"]["published"].dump(), summary["unrecorded"].dump()));

  // The segments: gone after a clean stop, unless the summary says it kept one for owed frames.
  const bool owes = std::any_of(summary["unrecorded"].begin(), summary["unrecorded"].end(),
                                [](const json& u) { return u.value("held", false); });
  if (!owes) {
    EXPECT_TRUE(ring::Segment::list_rings(instance_).empty()) << "a clean stop removes its rings";
  }

  // The recordings: each folder read back with tifffile, every page the pattern of its sequence.
  std::map<std::uint64_t, std::string> recorded;  // sequence -> the folder that holds it
  std::vector<std::pair<std::uint64_t, std::uint64_t>> gaps;
  std::vector<fs::path> folders;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dest(), ec)) {
    if (e.is_directory()) folders.push_back(e.path());
  }
  std::sort(folders.begin(), folders.end());
  EXPECT_FALSE(folders.empty());
  for (const auto& folder : folders) {
    const std::string name = folder.filename().string();
    const json check = test::tifffile_check(folder, dir_.path());
    ASSERT_TRUE(check.is_object()) << "tifffile could not read " << folder;
    EXPECT_TRUE(check["bad"].empty()) << name << ": pages that differ from their pattern (torn): "
                                      << check["bad"].dump();
    const auto sequences = check["sequences"].get<std::vector<std::uint64_t>>();
    for (std::size_t i = 1; i < sequences.size(); ++i) {
      EXPECT_LT(sequences[i - 1], sequences[i]) << name << ": sequences not strictly increasing at index row " << i;
    }
    for (const std::uint64_t s : sequences) {
      const auto [it, inserted] = recorded.emplace(s, name);
      EXPECT_TRUE(inserted) << "sequence " << s << " recorded twice: in " << it->second << " and " << name;
      EXPECT_LT(s, raw_published) << name << " holds a sequence never published";
    }
    const auto inspect = test::run({test::framering_bin(), "inspect", folder.string()}, 60s);
    EXPECT_EQ(inspect.exit_code, 0) << "framering inspect " << name << ": " << inspect.out << inspect.err;
    std::ifstream manifest_in(folder / "manifest.json");
    const json manifest = json::parse(manifest_in, nullptr, false);
    EXPECT_TRUE(manifest.is_object()) << name << " was never closed (no manifest.json)";
    if (manifest.is_object()) {
      for (const auto& g : manifest["gaps"]) {
        if (g["cause"] == "evicted") gaps.emplace_back(g["first"].get<std::uint64_t>(), g["last"].get<std::uint64_t>());
      }
    }
    note(fmt::format("recording {}: {} frames, sequences {}..{}, gaps {}", name, sequences.size(),
                     sequences.empty() ? 0 : sequences.front(), sequences.empty() ? 0 : sequences.back(),
                     manifest.is_object() ? manifest["gaps"].dump() : "(no manifest)"));
  }

  // Nothing missing without a written word: recorded, in a recorded gap, or listed as unrecorded.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> unrecorded;
  for (const auto& u : summary["unrecorded"]) {
    if (u["ring"] == "raw" && u["consumer"] == "record") {
      unrecorded.emplace_back(u["first"].get<std::uint64_t>(), u["last"].get<std::uint64_t>());
    }
  }
  auto within = [](const auto& ranges, std::uint64_t s) {
    return std::any_of(ranges.begin(), ranges.end(), [&](const auto& r) { return s >= r.first && s <= r.second; });
  };
  std::vector<std::uint64_t> missing;
  for (std::uint64_t s = 0; s < raw_published; ++s) {
    if (!recorded.contains(s) && !within(gaps, s) && !within(unrecorded, s)) missing.push_back(s);
  }
  EXPECT_TRUE(missing.empty()) << missing.size() << " of " << raw_published
                               << " published sequences are neither recorded, nor in a manifest's gap, nor "
                                  "listed as unrecorded: "
                               << ranges_text(missing);

  // With restarts well inside the dead timeouts, nothing is lost at all.
  EXPECT_EQ(recorded.size(), raw_published)
      << "gaps " << json(gaps).dump() << ", unrecorded " << json(unrecorded).dump();
  EXPECT_EQ(stage("acquire")["rings"]["raw"]["evictions"], 0) << summary.dump();
  EXPECT_EQ(stage("process")["rings"]["processed"]["published"], raw_published)
      << "process (identity, every consumer) publishes one processed frame per raw frame";
  EXPECT_TRUE(summary["unrecorded"].empty()) << summary["unrecorded"].dump();
  EXPECT_EQ(exit_code, 0) << final_log;
}

}  // namespace
}  // namespace framering
