// The ring when things go wrong, across real processes: consumers stopped or SIGKILLed, a
// producer SIGKILLed mid-write, stale and corrupt segments, and every way a start can be refused
// (geometry, second producer, taken name, bad name, missing ring, permission). A refusal is exit
// code 2 with a message naming the segment and what was expected, and it changes nothing.
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "framering/common/ring_layout.hpp"
#include "framering/common/ring_status.hpp"
#include "framering/common/segment.hpp"
#include "ring_process.hpp"
#include "test_support.hpp"

namespace framering::ring {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using test::Child;

constexpr int kRefused = 2;  // ring_peer's and framering's exit code for a clear error
constexpr int kKilled = 128 + SIGKILL;

std::string str(std::uint64_t value) { return std::to_string(value); }

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Runs argv as user `uid`, group `gid` (no supplementary groups): fork, drop privileges, exec.
// The child calls only async-signal-safe functions between fork and exec.
test::RunResult run_as(uid_t uid, gid_t gid, const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  auto temp_fd = [] {
    char path[] = "/tmp/framering-as-XXXXXX";
    const int fd = ::mkstemp(path);
    if (fd >= 0) ::unlink(path);
    return fd;
  };
  const int out_fd = temp_fd();
  const int err_fd = temp_fd();
  const int null_fd = ::open("/dev/null", O_RDONLY);
  std::vector<std::string> owned = argv;
  std::vector<char*> args;
  for (auto& a : owned) args.push_back(a.data());
  args.push_back(nullptr);

  test::RunResult result;
  if (out_fd < 0 || err_fd < 0 || null_fd < 0) {
    for (const int fd : {out_fd, err_fd, null_fd}) {
      if (fd >= 0) ::close(fd);
    }
    result.err = "run_as: cannot open its files";
    return result;
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(null_fd, 0);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) ::_exit(126);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  const bool exited = pid > 0 && test::wait_until([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, timeout);
  if (pid > 0 && !exited) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  } else if (pid > 0) {
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  auto slurp = [](int fd) {
    std::string text;
    char buffer[4096];
    ::lseek(fd, 0, SEEK_SET);
    for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) text.append(buffer, static_cast<std::size_t>(n));
    ::close(fd);
    return text;
  };
  result.out = slurp(out_fd);
  result.err = slurp(err_fd);
  ::close(null_fd);
  return result;
}

// What a refused start must leave as it was.
struct RingSnapshot {
  std::string header_bytes;  ///< the SegmentHeader, byte for byte
  std::uint64_t published = 0;
  std::uint32_t producer_pid = 0;
  std::uint64_t producer_attaches = 0;
  std::vector<std::pair<std::string, std::uint32_t>> consumers;  ///< name, pid
  std::vector<std::uint64_t> cursors;
  friend bool operator==(const RingSnapshot&, const RingSnapshot&) = default;
};

void PrintTo(const RingSnapshot& s, std::ostream* os) {
  *os << "published " << s.published << ", producer pid " << s.producer_pid << ", attaches " << s.producer_attaches
      << ", " << s.consumers.size() << " consumers";
}

class RingFault : public ::testing::Test {
 protected:
  void SetUp() override { instance_ = test::unique_instance(); }
  void TearDown() override { test::remove_instance(instance_); }

  [[nodiscard]] std::vector<std::string> peer(const std::string& role, std::vector<std::string> extra) const {
    return test::peer_argv(role, instance_, std::move(extra));
  }
  [[nodiscard]] std::string segment_path(const std::string& ring = "raw") const {
    return "/dev/shm/framering." + instance_ + "." + ring;
  }

  [[nodiscard]] std::uint64_t published() const {
    const auto status = test::ring_status(instance_);
    return status ? status->published : 0;
  }

  [[nodiscard]] std::optional<ConsumerStatus> consumer(std::string_view name) const {
    const auto status = test::ring_status(instance_);
    return status ? test::consumer_named(*status, name) : std::nullopt;
  }

  [[nodiscard]] bool producer_stopped_at(const Child& producer, std::uint64_t sequence) const {
    return test::wait_until([&] { return test::process_state(producer.pid()) == 'T' && published() == sequence; }, 20s);
  }

  [[nodiscard]] RingSnapshot snapshot() const {
    RingSnapshot s;
    std::ifstream in(segment_path(), std::ios::binary);
    s.header_bytes.resize(sizeof(SegmentHeader));
    in.read(s.header_bytes.data(), static_cast<std::streamsize>(s.header_bytes.size()));
    const auto status = test::ring_status(instance_);
    if (!status) return s;
    s.published = status->published;
    s.producer_pid = status->producer_pid;
    s.producer_attaches = status->producer_attaches;
    for (const auto& c : status->consumers) {
      s.consumers.emplace_back(c.name, c.pid);
      s.cursors.push_back(c.cursor);
    }
    return s;
  }

  // A producer alive on "raw" with 10 frames published, stopped before claiming the next one.
  [[nodiscard]] std::unique_ptr<Child> live_producer(std::vector<std::string> extra = {}) const {
    std::vector<std::string> args{"--frames", "20", "--stop-at", "10"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto producer = std::make_unique<Child>(peer("produce", args));
    EXPECT_TRUE(producer_stopped_at(*producer, 10)) << producer->err();
    return producer;
  }

  std::string instance_;
};

// ---- consumers stopped and killed -------------------------------------------------------------

TEST_F(RingFault, StoppedEveryConsumerBlocksTheProducerThenOnceKilledIsEvictedAndARestartLearnsTheExactGap) {
  test::Watchdog watchdog(60s);
  constexpr std::uint64_t kFrames = 2000;
  constexpr std::uint64_t kSlots = 8;
  constexpr std::uint64_t kHeld = 100;  // the consumer stops itself after releasing this many
  Child producer(peer("produce", {"--frames", str(kFrames), "--slots", str(kSlots), "--stop-at", "0",
                                  "--claim-timeout-ms", "60000"}));
  ASSERT_TRUE(producer_stopped_at(producer, 0)) << producer.err();
  Child first(peer("every", {"--name", "rec", "--frames", str(kFrames), "--stop-after", str(kHeld),
                             "--stall-timeout-ms", "0", "--dead-timeout-ms", "300"}));
  ASSERT_TRUE(test::wait_attached(instance_, "rec", first.pid(), 20s)) << first.err();
  producer.signal(SIGCONT);

  // The consumer sits at cursor 100: the producer fills the ring up to it and waits.
  ASSERT_TRUE(test::wait_stopped(first, 20s)) << first.err();
  ASSERT_TRUE(test::wait_until([&] { return published() == kHeld + kSlots; }, 20s)) << published();
  const auto stopped = consumer("rec");
  ASSERT_TRUE(stopped.has_value());
  ASSERT_EQ(stopped->cursor, kHeld);
  // It stays there while it keeps looking: its heartbeat moves, `published` does not.
  const Segment segment = Segment::open(instance_, "raw");
  const auto heartbeat = [&] { return at(segment.control().identity.heartbeat_ns).load(); };
  for (int look = 0; look < 3; ++look) {
    const std::uint64_t before = heartbeat();
    ASSERT_TRUE(test::wait_until([&] { return heartbeat() != before; }, 10s)) << "the blocked producer stopped looking";
  }
  EXPECT_EQ(published(), kHeld + kSlots);
  EXPECT_EQ(producer.wait(0ms), -1) << "the producer waits, it does not give up";
  EXPECT_NE(test::process_state(producer.pid()), 'T');

  // Killed: evicted once dead for its dead timeout, and the producer goes on to the end.
  first.signal(SIGKILL);
  ASSERT_EQ(test::finish(first, 10s), kKilled);
  ASSERT_EQ(test::finish(producer, 30s), 0) << producer.out() << producer.err();
  const json produced = test::report_of(producer.out());
  EXPECT_EQ(produced["published"], kFrames);
  EXPECT_EQ(produced["claim_timeouts"], 0);
  const auto evicted = consumer("rec");
  ASSERT_TRUE(evicted.has_value());
  EXPECT_EQ(evicted->state, ConsumerState::Evicted);
  EXPECT_EQ(evicted->evictions, 1U);
  EXPECT_EQ(evicted->cursor, kHeld);
  EXPECT_EQ(at(segment.control().stats.evictions).load(), 1U);
  EXPECT_EQ(at(segment.consumer(evicted->index).producer_side.evicted_at_cursor).load(), kHeld);
  EXPECT_EQ(at(segment.consumer(evicted->index).producer_side.evicted_dead).load(), 1U);
  const test::RunResult status = test::run(test::framering_argv({"status", "--instance", instance_, "--json"}), 20s);
  ASSERT_EQ(status.exit_code, 0) << status.err;
  const json shown = json::parse(status.out, nullptr, false);
  ASSERT_TRUE(shown.is_array() && shown.size() == 1 && shown[0]["consumers"].size() == 1) << status.out;
  EXPECT_EQ(shown[0]["consumers"][0]["state"], "evicted");
  EXPECT_EQ(shown[0]["consumers"][0]["evictions"], 1);
  EXPECT_EQ(shown[0]["producer"]["evictions"], 1);

  // Restarted under the same name: it learns exactly the frames it never got.
  Child second(peer("every", {"--name", "rec", "--frames", "1000000", "--until-sequence", str(kFrames - 1),
                              "--verify", "--wait-for-segment-ms", "0"}));
  ASSERT_EQ(test::finish(second, 20s), 0) << second.out() << second.err();
  const json sut = test::report_of(second.out());
  ASSERT_TRUE(sut.is_object()) << second.out();
  EXPECT_EQ(sut["resumed"], true);
  EXPECT_EQ(sut["cursor_at_start"], kHeld);
  const auto first_read = sut["first"].get<std::uint64_t>();
  ASSERT_GT(first_read, kHeld);
  EXPECT_EQ(sut["gaps"], json::array({json::array({kHeld, first_read - 1})})) << sut;
  EXPECT_EQ(sut["lost_counter"], first_read - kHeld);
  EXPECT_EQ(sut["last"], kFrames - 1);
  EXPECT_EQ(sut["frames"], kFrames - first_read);
  EXPECT_EQ(sut["out_of_order"], 0);
  EXPECT_EQ(sut["bad_content"], 0);
}

TEST_F(RingFault, EveryConsumerKilledAndRestartedWithinItsDeadTimeoutResumesAtItsCursorWithoutLoss) {
  test::Watchdog watchdog(60s);
  constexpr std::uint64_t kFrames = 20'000;
  constexpr std::uint64_t kSlots = 8;
  const std::vector<std::string> patient{"--dead-timeout-ms", "60000", "--stall-timeout-ms", "0"};
  Child producer(peer("produce", {"--frames", str(kFrames), "--slots", str(kSlots), "--stop-at", "0",
                                  "--claim-timeout-ms", "60000"}));
  ASSERT_TRUE(producer_stopped_at(producer, 0)) << producer.err();
  std::vector<std::string> first_args{"--name", "rec", "--frames", str(kFrames), "--verify"};
  first_args.insert(first_args.end(), patient.begin(), patient.end());
  Child first(peer("every", first_args));
  ASSERT_TRUE(test::wait_attached(instance_, "rec", first.pid(), 20s)) << first.err();
  producer.signal(SIGCONT);

  // Killed wherever it happens to be once it is well under way.
  ASSERT_TRUE(test::wait_until(
      [&] {
        const auto rec = consumer("rec");
        return rec && rec->cursor >= 2000;
      },
      20s));
  first.signal(SIGKILL);
  ASSERT_EQ(test::finish(first, 10s), kKilled);
  // The producer waits at the dead consumer's cursor, it does not evict it yet.
  std::uint64_t cursor = 0;
  ASSERT_TRUE(test::wait_until(
      [&] {
        const auto rec = consumer("rec");
        if (!rec) return false;
        cursor = rec->cursor;
        return published() == cursor + kSlots;
      },
      20s))
      << published();

  std::vector<std::string> second_args{"--name", "rec", "--frames", "1000000", "--until-sequence", str(kFrames - 1),
                                       "--verify", "--wait-for-segment-ms", "0"};
  second_args.insert(second_args.end(), patient.begin(), patient.end());
  Child second(peer("every", second_args));
  ASSERT_EQ(test::finish(second, 30s), 0) << second.out() << second.err();
  ASSERT_EQ(test::finish(producer, 10s), 0) << producer.err();

  const json sut = test::report_of(second.out());
  ASSERT_TRUE(sut.is_object()) << second.out();
  EXPECT_EQ(sut["resumed"], true);
  EXPECT_EQ(sut["cursor_at_start"], cursor);
  EXPECT_EQ(sut["first"], cursor);
  EXPECT_EQ(sut["last"], kFrames - 1);
  EXPECT_EQ(sut["frames"], kFrames - cursor);
  EXPECT_EQ(sut["gaps"], json::array());
  EXPECT_EQ(sut["lost_counter"], 0);
  EXPECT_EQ(sut["out_of_order"], 0);
  EXPECT_EQ(sut["bad_content"], 0);
  const auto status = test::ring_status(instance_);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->evictions, 0U);
}

// ---- producer killed --------------------------------------------------------------------------

TEST_F(RingFault, ProducerKilledMidWriteAndRestartedContinuesTheSequenceForConsumersRunningAcross) {
  test::Watchdog watchdog(60s);
  constexpr std::uint64_t kKilledAt = 5000;
  constexpr std::uint64_t kMore = 3000;
  constexpr std::uint64_t kTotal = kKilledAt + kMore;
  Child crashing(peer("produce", {"--frames", "1000000", "--stop-at", "0", "--kill-mid-write-at", str(kKilledAt)}));
  ASSERT_TRUE(producer_stopped_at(crashing, 0)) << crashing.err();
  Child every(peer("every", {"--name", "rec", "--frames", str(kTotal), "--verify"}));
  Child newest(
      peer("newest", {"--name", "view", "--frames", "1000000", "--until-sequence", str(kTotal - 1), "--verify"}));
  ASSERT_TRUE(test::wait_attached(instance_, "rec", every.pid(), 20s)) << every.err();
  ASSERT_TRUE(test::wait_attached(instance_, "view", newest.pid(), 20s)) << newest.err();
  crashing.signal(SIGCONT);

  ASSERT_EQ(test::finish(crashing, 20s), kKilled) << crashing.err();
  EXPECT_EQ(published(), kKilledAt);
  {
    const Segment segment = Segment::open(instance_, "raw");
    EXPECT_EQ(at(segment.frame_header(static_cast<std::uint32_t>(kKilledAt % segment.slot_count())).seqlock).load(), 2 * kKilledAt + 1)
        << "the producer died with that slot half written";
  }
  Child restarted(peer("produce", {"--frames", str(kMore)}));
  ASSERT_EQ(test::finish(restarted, 20s), 0) << restarted.err();

  const json produced = test::report_of(restarted.out());
  EXPECT_EQ(produced["reattached"], true);
  EXPECT_EQ(produced["first"], kKilledAt);
  EXPECT_EQ(produced["next"], kTotal);
  ASSERT_EQ(test::finish(every, 20s), 0) << every.out() << every.err();
  ASSERT_EQ(test::finish(newest, 20s), 0) << newest.out() << newest.err();
  const json rec = test::report_of(every.out());
  EXPECT_EQ(rec["frames"], kTotal);
  EXPECT_EQ(rec["first"], 0);
  EXPECT_EQ(rec["last"], kTotal - 1);
  EXPECT_EQ(rec["gaps"], json::array());
  EXPECT_EQ(rec["out_of_order"], 0) << "a gap or a duplicate: " << rec;
  EXPECT_EQ(rec["bad_content"], 0);
  const json view = test::report_of(newest.out());
  EXPECT_EQ(view["last"], kTotal - 1);
  EXPECT_EQ(view["out_of_order"], 0) << "a frame shown twice: " << view;
  EXPECT_EQ(view["torn_shown"], 0);
  EXPECT_EQ(view["bad_content"], 0);
  const auto status = test::ring_status(instance_);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->producer_attaches, 2U);
}

// ---- stale segments ---------------------------------------------------------------------------

TEST_F(RingFault, StaleSegmentOfACrashedProducerIsReattachedByOneWithTheSameGeometry) {
  test::Watchdog watchdog(60s);
  Child crashed(peer("produce", {"--frames", "1000", "--kill-mid-write-at", "500"}));
  ASSERT_EQ(test::finish(crashed, 20s), kKilled) << crashed.err();

  const test::RunResult run = test::run(peer("produce", {"--frames", "100"}), 20s);

  ASSERT_EQ(run.exit_code, 0) << run.err;
  const json sut = test::report_of(run.out);
  EXPECT_EQ(sut["reattached"], true);
  EXPECT_EQ(sut["first"], 500);
  EXPECT_EQ(sut["next"], 600);
  const test::RunResult view = test::run(
      peer("newest", {"--name", "view", "--until-sequence", "599", "--verify", "--wait-for-segment-ms", "0"}), 20s);
  ASSERT_EQ(view.exit_code, 0) << view.err;
  EXPECT_EQ(test::report_of(view.out)["last"], 599);
  EXPECT_EQ(test::report_of(view.out)["bad_content"], 0);
}

TEST_F(RingFault, StaleSegmentOfACrashedProducerIsReplacedByOneWithAnotherGeometry) {
  test::Watchdog watchdog(60s);
  Child crashed(peer("produce", {"--frames", "1000", "--kill-mid-write-at", "500"}));
  ASSERT_EQ(test::finish(crashed, 20s), kKilled) << crashed.err();
  const std::uint64_t old_id = Segment::open(instance_, "raw").header().segment_id;

  const test::RunResult run = test::run(peer("produce", {"--frames", "10", "--width", "32"}), 20s);

  ASSERT_EQ(run.exit_code, 0) << run.err;
  const json sut = test::report_of(run.out);
  EXPECT_EQ(sut["reattached"], false);
  EXPECT_EQ(sut["first"], 0);
  EXPECT_TRUE(contains(run.err, "stale")) << run.err;
  const Segment segment = Segment::open(instance_, "raw");
  EXPECT_EQ(segment.header().width, 32U);
  EXPECT_NE(segment.header().segment_id, old_id);
}

// A creator that died between shm_open and ftruncate (0 B), or before storing magic (all zero).
class HalfCreatedSegment : public RingFault, public ::testing::WithParamInterface<std::uintmax_t> {};

TEST_P(HalfCreatedSegment, FailsAStartClearlyInsteadOfHangingAndRemoveStaleClearsIt) {
  test::Watchdog watchdog(60s);
  { std::ofstream create(segment_path()); }
  std::filesystem::resize_file(segment_path(), GetParam());

  const test::RunResult refused = test::run(peer("produce", {"--frames", "10"}), 20s);

  EXPECT_EQ(refused.exit_code, kRefused) << refused.err;
  EXPECT_TRUE(contains(refused.err, segment_path())) << refused.err;
  EXPECT_TRUE(contains(refused.err, GetParam() == 0 ? "truncated" : "never finished initialising")) << refused.err;
  const test::RunResult removed =
      test::run(test::framering_argv({"status", "--instance", instance_, "--remove-stale"}), 20s);
  EXPECT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_FALSE(std::filesystem::exists(segment_path()));
  const test::RunResult started = test::run(peer("produce", {"--frames", "10"}), 20s);
  EXPECT_EQ(started.exit_code, 0) << started.err;
}

INSTANTIATE_TEST_SUITE_P(RingFault, HalfCreatedSegment, ::testing::Values(0U, 73728U));

// ---- refused starts change nothing ------------------------------------------------------------

TEST_F(RingFault, ProducerWithOtherGeometryIsRefusedWhileTheRingIsInUseAndChangesNothing) {
  test::Watchdog watchdog(60s);
  const auto producer = live_producer();
  const RingSnapshot before = snapshot();

  const test::RunResult sut = test::run(peer("produce", {"--frames", "5", "--width", "32"}), 20s);

  EXPECT_EQ(sut.exit_code, kRefused) << sut.out << sut.err;
  EXPECT_TRUE(contains(sut.err, segment_path())) << sut.err;
  EXPECT_TRUE(contains(sut.err, "64x48")) << sut.err;
  EXPECT_TRUE(contains(sut.err, "32x48")) << sut.err;
  EXPECT_TRUE(contains(sut.err, "in use")) << sut.err;
  EXPECT_EQ(snapshot(), before);
  producer->signal(SIGCONT);
  ASSERT_EQ(test::finish(*producer, 20s), 0) << producer->err();
  EXPECT_EQ(test::report_of(producer->out())["next"], 20) << "the ring in use carried on";
}

TEST_F(RingFault, ProducerWithAnotherConsumerTableSizeIsRefusedNamingWhatDiffers) {
  test::Watchdog watchdog(60s);
  const auto producer = live_producer();  // ring_peer's default: 16 consumer entries
  const RingSnapshot before = snapshot();

  const test::RunResult sut = test::run(peer("produce", {"--frames", "5", "--max-consumers", "4"}), 20s);

  EXPECT_EQ(sut.exit_code, kRefused) << sut.out << sut.err;
  EXPECT_TRUE(contains(sut.err, segment_path())) << sut.err;
  const std::regex two_sides("holds (.+) but this producer needs (.+?)( and it is|\\n|$)");
  std::smatch sides;
  ASSERT_TRUE(std::regex_search(sut.err, sides, two_sides)) << sut.err;
  EXPECT_NE(sides[1].str(), sides[2].str()) << "the message must show what differs: " << sut.err;
  EXPECT_EQ(snapshot(), before);
}

TEST_F(RingFault, SecondLiveProducerWithTheSameGeometryIsRefusedAndChangesNothing) {
  test::Watchdog watchdog(60s);
  const auto producer = live_producer();
  const RingSnapshot before = snapshot();

  const test::RunResult sut = test::run(peer("produce", {"--frames", "5"}), 20s);

  EXPECT_EQ(sut.exit_code, kRefused) << sut.out << sut.err;
  EXPECT_TRUE(contains(sut.err, segment_path())) << sut.err;
  EXPECT_TRUE(contains(sut.err, fmt::format("live producer, pid {}", producer->pid()))) << sut.err;
  EXPECT_EQ(snapshot(), before);
  producer->signal(SIGCONT);
  ASSERT_EQ(test::finish(*producer, 20s), 0) << producer->err();
  EXPECT_EQ(test::report_of(producer->out())["next"], 20);
}

TEST_F(RingFault, ConsumerNameHeldByALiveProcessIsRefusedAndChangesNothing) {
  test::Watchdog watchdog(60s);
  Child producer(peer("produce", {"--frames", "20", "--stop-at", "0", "10"}));
  ASSERT_TRUE(producer_stopped_at(producer, 0)) << producer.err();
  Child holder(peer("every", {"--name", "rec", "--frames", "20", "--stop-after", "5", "--stall-timeout-ms", "0"}));
  ASSERT_TRUE(test::wait_attached(instance_, "rec", holder.pid(), 20s)) << holder.err();
  producer.signal(SIGCONT);
  ASSERT_TRUE(producer_stopped_at(producer, 10)) << producer.err();
  ASSERT_TRUE(test::wait_stopped(holder, 20s)) << holder.err();
  const RingSnapshot before = snapshot();

  for (const std::string kind : {"every", "newest"}) {
    const test::RunResult sut = test::run(peer(kind, {"--name", "rec", "--wait-for-segment-ms", "0"}), 20s);

    EXPECT_EQ(sut.exit_code, kRefused) << kind << ": " << sut.out << sut.err;
    EXPECT_TRUE(contains(sut.err, fmt::format("consumer name 'rec' is in use by live pid {}", holder.pid())))
        << sut.err;
    EXPECT_TRUE(contains(sut.err, segment_path())) << "which ring of which instance: " << sut.err;
    EXPECT_EQ(snapshot(), before) << kind;
  }
  holder.signal(SIGCONT);
  producer.signal(SIGCONT);
  ASSERT_EQ(test::finish(holder, 20s), 0) << holder.err();
  const json rec = test::report_of(holder.out());
  EXPECT_EQ(rec["frames"], 20) << "the holder carried on";
  EXPECT_EQ(rec["gaps"], json::array());
  EXPECT_EQ(test::finish(producer, 20s), 0) << producer.err();
}

// A consumer SIGKILLed inside attach, after it claimed a free entry and wrote its name but before
// it marked the entry Active, leaves that entry in state Claiming with its dead pid. Attach runs
// under the table lock (flock), which the kernel released when it died, so no live process can
// be mid-attach there. The entry is built by hand: no test can stop a process at that instruction.
TEST_F(RingFault, ConsumerKilledInsideAttachDoesNotLockItsNameOut) {
  test::Watchdog watchdog(60s);
  const auto producer = live_producer();
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ASSERT_GT(dead, 0);
  ASSERT_EQ(::waitpid(dead, nullptr, 0), dead);
  {
    const Segment segment = Segment::open(instance_, "raw");
    ConsumerEntry& entry = segment.consumer(0);
    ASSERT_EQ(at(entry.identity.state).load(), static_cast<std::uint32_t>(ConsumerState::Free));
    at(entry.identity.state).store(static_cast<std::uint32_t>(ConsumerState::Claiming));
    at(entry.identity.pid).store(static_cast<std::uint32_t>(dead));
    entry.identity.kind = static_cast<std::uint32_t>(ConsumerKind::Newest);
    std::memcpy(entry.identity.name, "view", 5);
  }

  Child sut(peer("newest", {"--name", "view", "--frames", "1", "--verify", "--wait-for-segment-ms", "0",
                            "--stop-before-exit"}));
  ASSERT_TRUE(test::wait_until([&] { return test::process_state(sut.pid()) == 'T' || sut.wait(0ms) != -1; }, 20s));

  EXPECT_EQ(test::report_of(sut.out())["last"], 9) << sut.out() << sut.err();
  const auto status = test::ring_status(instance_);
  ASSERT_TRUE(status.has_value());
  int named_view = 0;
  for (const auto& c : status->consumers) named_view += c.name == "view" ? 1 : 0;
  EXPECT_EQ(named_view, 1) << "the dead claimant's entry is reclaimed, not left beside the new one";
  sut.signal(SIGCONT);
  EXPECT_EQ(test::finish(sut, 20s), 0) << sut.err();
}

TEST_F(RingFault, BadRingInstanceAndConsumerNamesAreRefusedAndCreateNothing) {
  test::Watchdog watchdog(60s);
  const auto producer = live_producer();
  const RingSnapshot before = snapshot();
  struct Case {
    std::vector<std::string> argv;
    std::string message;
  };
  const std::vector<Case> cases{
      {peer("every", {"--ring", "a.b", "--name", "x"}), "ring name 'a.b' is not valid"},
      {peer("produce", {"--ring", "../etc"}), "ring name '../etc' is not valid"},
      {peer("newest", {"--ring", std::string(48, 'r')}), "ring name"},
      {test::peer_argv("produce", "bad/instance"), "instance name 'bad/instance' is not valid"},
      {test::peer_argv("newest", ""), "instance name '' is not valid"},
      {peer("every", {"--name", "bad name"}), "consumer name 'bad name' is not valid"},
      {test::framering_argv({"status", "--instance", "bad instance"}), "instance name 'bad instance' is not valid"},
  };
  for (const Case& c : cases) {
    const test::RunResult sut = test::run(c.argv, 20s);

    EXPECT_EQ(sut.exit_code, kRefused) << c.argv[1] << " " << sut.out << sut.err;
    EXPECT_TRUE(contains(sut.err, c.message)) << sut.err;
    EXPECT_TRUE(contains(sut.err, "expected 1 to")) << "it says what a valid name is: " << sut.err;
  }
  EXPECT_EQ(Segment::list_rings(instance_), std::vector<std::string>{"raw"});
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm", ec)) {
    EXPECT_FALSE(entry.path().filename().string().starts_with("framering.bad")) << entry.path();
  }
  EXPECT_EQ(snapshot(), before);
}

TEST_F(RingFault, MissingRingIsAClearErrorNamingTheSegment) {
  test::Watchdog watchdog(60s);
  const auto producer = live_producer();

  for (const std::string wait_ms : {"0", "200"}) {
    for (const std::string kind : {"every", "newest"}) {
      const test::RunResult sut =
          test::run(peer(kind, {"--ring", "nothere", "--name", "x", "--wait-for-segment-ms", wait_ms}), 20s);

      EXPECT_EQ(sut.exit_code, kRefused) << kind << " " << sut.out << sut.err;
      EXPECT_TRUE(contains(sut.err, segment_path("nothere"))) << sut.err;
      EXPECT_TRUE(contains(sut.err, "no producer has created it")) << sut.err;
    }
  }
  EXPECT_EQ(Segment::list_rings(instance_), std::vector<std::string>{"raw"});
}

// ---- permissions ------------------------------------------------------------------------------

constexpr uid_t kNobody = 65534;

gid_t group_of(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 ? st.st_gid : static_cast<gid_t>(-1);
}

mode_t mode_of(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0;
}

TEST_F(RingFault, PrivateRingIsDeniedToAnotherUserEvenInItsGroupAndChangesNothing) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a child as user nobody";
  test::Watchdog watchdog(60s);
  const auto producer = live_producer();
  ASSERT_EQ(mode_of(segment_path()), 0600U);
  const RingSnapshot before = snapshot();

  for (const std::string role : {"newest", "produce"}) {
    const test::RunResult sut = run_as(kNobody, group_of(segment_path()),
                                       peer(role, {"--name", "other", "--wait-for-segment-ms", "0"}), 20s);

    EXPECT_EQ(sut.exit_code, kRefused) << role << ": " << sut.out << sut.err;
    EXPECT_TRUE(contains(sut.err, segment_path())) << sut.err;
    EXPECT_TRUE(contains(sut.err, "Permission denied")) << sut.err;
    EXPECT_TRUE(contains(sut.err, "group access")) << "it says how to share it: " << sut.err;
  }
  EXPECT_EQ(snapshot(), before);
}

TEST_F(RingFault, GroupAccessRingIsMode0660AndOpensForItsGroupOnly) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a child as user nobody";
  test::Watchdog watchdog(60s);
  const auto producer = live_producer({"--group-access"});
  EXPECT_EQ(mode_of(segment_path()), 0660U);
  const auto status = test::ring_status(instance_);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->permissions, 0660U);
  const std::vector<std::string> view =
      peer("newest", {"--name", "other", "--frames", "1", "--verify", "--wait-for-segment-ms", "0"});

  const test::RunResult member = run_as(kNobody, group_of(segment_path()), view, 20s);
  const test::RunResult outsider = run_as(kNobody, kNobody, view, 20s);

  ASSERT_EQ(member.exit_code, 0) << member.out << member.err;
  EXPECT_EQ(test::report_of(member.out)["last"], 9);
  EXPECT_EQ(test::report_of(member.out)["bad_content"], 0);
  EXPECT_EQ(outsider.exit_code, kRefused) << outsider.out << outsider.err;
  EXPECT_TRUE(contains(outsider.err, "Permission denied")) << outsider.err;
}

// ---- corrupt segments and `framering status` --------------------------------------------------

struct Corruption {
  std::string name;
  std::function<void(const std::string& path)> apply;
  std::string message;  ///< what the error must say
};

void PrintTo(const Corruption& c, std::ostream* os) { *os << c.name; }

class CorruptSegmentStatus : public RingFault, public ::testing::WithParamInterface<Corruption> {};

TEST_P(CorruptSegmentStatus, IsReportedWithoutCrashingAndRemovedByRemoveStale) {
  test::Watchdog watchdog(60s);
  const test::RunResult made = test::run(peer("produce", {"--frames", "3"}), 20s);
  ASSERT_EQ(made.exit_code, 0) << made.err;
  GetParam().apply(segment_path());

  const test::RunResult text = test::run(test::framering_argv({"status", "--instance", instance_}), 20s);
  const test::RunResult as_json = test::run(test::framering_argv({"status", "--instance", instance_, "--json"}), 20s);

  EXPECT_EQ(text.exit_code, kRefused) << text.out << text.err;
  EXPECT_TRUE(contains(text.out, "ERROR")) << text.out;
  EXPECT_TRUE(contains(text.out, segment_path())) << text.out;
  EXPECT_TRUE(contains(text.out, GetParam().message)) << text.out;
  EXPECT_EQ(as_json.exit_code, kRefused) << as_json.out << as_json.err;
  const json parsed = json::parse(as_json.out, nullptr, false);
  ASSERT_TRUE(parsed.is_array() && parsed.size() == 1) << as_json.out;
  EXPECT_EQ(parsed[0]["ring"], "raw");
  EXPECT_TRUE(contains(parsed[0].value("error", ""), GetParam().message)) << parsed.dump();
  EXPECT_TRUE(std::filesystem::exists(segment_path())) << "status alone removes nothing";

  const test::RunResult removed =
      test::run(test::framering_argv({"status", "--instance", instance_, "--remove-stale"}), 20s);

  EXPECT_EQ(removed.exit_code, 0) << removed.out << removed.err;
  EXPECT_TRUE(contains(removed.out, "removed unreadable ring raw")) << removed.out;
  EXPECT_FALSE(std::filesystem::exists(segment_path()));
}

void overwrite(const std::string& path, std::size_t offset, const void* bytes, std::size_t size) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(static_cast<const char*>(bytes), static_cast<std::streamsize>(size));
}

INSTANTIATE_TEST_SUITE_P(
    RingFault, CorruptSegmentStatus,
    ::testing::Values(
        Corruption{"ForeignMagic",
                   [](const std::string& path) { overwrite(path, 0, "NOTOURS!", 8); },
                   "not a framering ring"},
        Corruption{"OtherLayoutVersion",
                   [](const std::string& path) {
                     const std::uint32_t version = kLayoutVersion + 1;
                     overwrite(path, offsetof(SegmentHeader, layout_version), &version, sizeof version);
                   },
                   fmt::format("layout version {}", kLayoutVersion + 1)},
        Corruption{"TruncatedBelowItsHeaderSize",
                   [](const std::string& path) { std::filesystem::resize_file(path, 8192); },
                   "truncated"},
        Corruption{"ShorterThanAHeader",
                   [](const std::string& path) { std::filesystem::resize_file(path, 100); },
                   "truncated"}),
    [](const ::testing::TestParamInfo<Corruption>& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace framering::ring
