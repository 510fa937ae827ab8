// `framering bridge send` -> `framering bridge receive`: real processes on this machine, two
// instances standing for two machines, joined by an ipc:// (or loopback tcp://) endpoint. The
// test process is the far side's every (or newest) consumer and checks every frame's content,
// sequence and metadata; kills, restarts, a stalled far side and wrong CURVE keys included.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "framering/common/ring_reader.hpp"
#include "framering/common/sequence_pattern.hpp"
#include "recording_check.hpp"
#include "ring_process.hpp"
#include "test_support.hpp"

namespace framering {
namespace {

using namespace std::chrono_literals;
using test::Child;

FrameShape shape_of(const ring::FrameView& f) { return {f.width, f.height, f.pixel_format, f.stride_bytes}; }
bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class Bridge : public ::testing::Test {
 protected:
  void SetUp() override {
    near_ = test::unique_instance();
    far_ = near_.substr(0, 28) + "-far";
    endpoint_ = "ipc:///tmp/framering-bridge-" + near_ + ".sock";
  }
  void TearDown() override {
    test::remove_instance(near_);
    test::remove_instance(far_);
    std::filesystem::remove("/tmp/framering-bridge-" + near_ + ".sock");
    if (!keys_.empty()) std::filesystem::remove_all(keys_);
  }

  [[nodiscard]] std::vector<std::string> acquire(std::uint64_t frames, double rate_hz = 0) const {
    return test::framering_argv({"acquire", "--instance", near_, "--scene", "testpattern", "--width", "64", "--height",
                                 "48", "--rate-hz", std::to_string(rate_hz), "--frames", std::to_string(frames),
                                 "--wait-for-consumers", "1", "--claim-timeout-ms", "60000"});
  }
  [[nodiscard]] std::vector<std::string> send(std::vector<std::string> extra = {}) const {
    std::vector<std::string> args{"bridge", "send", "--instance", near_, "--ring", "raw", "--to", endpoint_,
                                  "--ack-timeout-s", "0.5", "--log-level", "info"};
    args.insert(args.end(), transport_args_.begin(), transport_args_.end());
    args.insert(args.end(), extra.begin(), extra.end());
    return with_prefix(sender_prefix_, test::framering_argv(std::move(args)));
  }
  [[nodiscard]] std::vector<std::string> receive(std::vector<std::string> extra = {}) const {
    std::vector<std::string> args{"bridge", "receive", "--instance", far_, "--ring", "raw", "--listen", endpoint_,
                                  "--log-level", "info"};
    if (std::find(extra.begin(), extra.end(), "--wait-for-consumers") == extra.end()) {
      args.insert(args.end(), {"--wait-for-consumers", "1"});  // the test's far reader
    }
    args.insert(args.end(), transport_args_.begin(), transport_args_.end());
    args.insert(args.end(), extra.begin(), extra.end());
    return with_prefix(receiver_prefix_, test::framering_argv(std::move(args)));
  }
  static std::vector<std::string> with_prefix(const std::vector<std::string>& prefix, std::vector<std::string> argv) {
    argv.insert(argv.begin(), prefix.begin(), prefix.end());
    return argv;
  }
  [[nodiscard]] ring::RingReader far_reader(ring::ConsumerKind kind = ring::ConsumerKind::Every) const {
    ring::ReaderOptions options;
    options.name = "farrec";
    options.kind = kind;
    options.stall_timeout = 100s;
    options.wait_for_segment = 30000ms;
    return ring::RingReader::attach(far_, "raw", options);
  }
  // Reads far frames until `count` more came, checking order (no duplicate, no gap unless
  // `gaps` collects them), content and metadata; `on_frame` runs after each.
  void read_far(ring::RingReader& reader, std::uint64_t count, std::uint64_t& next, std::vector<ring::Gap>* gaps = nullptr,
                const std::function<void(std::uint64_t)>& on_frame = {}) {
    for (std::uint64_t i = 0; i < count; ++i) {
      const auto frame = reader.read(30s);
      ASSERT_TRUE(frame.has_value()) << "far frame after " << next;
      if (frame->gap) {
        ASSERT_NE(gaps, nullptr) << "a gap " << frame->gap->first << ".." << frame->gap->last << " before " << frame->sequence;
        gaps->push_back(*frame->gap);
        EXPECT_EQ(frame->gap->first, next);
        next = frame->gap->last + 1;
      }
      ASSERT_EQ(frame->sequence, next) << "in order, each once";
      EXPECT_EQ(check_sequence_pattern(frame->pixels, shape_of(*frame), frame->sequence), std::nullopt)
          << "frame " << frame->sequence << " arrived as it was written";
      EXPECT_EQ(frame->camera_frame_id, frame->sequence) << "the camera frame id crossed unchanged";
      EXPECT_GT(frame->timestamp_ns, 1'600'000'000'000'000'000ULL) << "the near side's CLOCK_REALTIME timestamp";
      ASSERT_TRUE(reader.release(*frame));
      ++next;
      if (on_frame) on_frame(frame->sequence);
    }
  }

  // Waits until the far recorder (consumer "record") has recorded `frames` frames.
  [[nodiscard]] bool far_recorded(std::uint64_t frames) const {
    return test::wait_until(
        [&] {
          const auto s = test::ring_status(far_);
          const auto rec = s ? test::consumer_named(*s, "record") : std::nullopt;
          return rec && rec->cursor >= frames;
        },
        120s);
  }
  // Waits until the near producer has evicted a consumer (the sender); the frames it had
  // published then, or nullopt on timeout.
  [[nodiscard]] std::optional<std::uint64_t> near_published_at_eviction() const {
    std::uint64_t published = 0;
    const bool evicted = test::wait_until(
        [&] {
          const auto s = test::ring_status(near_);
          if (!s || s->evictions == 0) return false;
          published = s->published;
          return true;
        },
        60s);
    return evicted ? std::optional(published) : std::nullopt;
  }
  // The one recording folder under `dest`.
  [[nodiscard]] static std::filesystem::path only_recording(const std::filesystem::path& dest) {
    std::filesystem::path recording;
    for (const auto& entry : std::filesystem::directory_iterator(dest)) {
      if (entry.is_directory()) recording = entry.path();
    }
    return recording;
  }

  // The scenarios run both here (ipc://) and between two network namespaces (BridgeNetns).
  void receiver_killed_and_restarted_mid_stream();
  void sender_killed_and_restarted();
  void far_recorder_stalled_until_the_sender_is_evicted();
  void live_mode_sender_never_slows_the_producer();

  std::string near_;
  std::string far_;
  std::string endpoint_;
  std::filesystem::path keys_;
  std::vector<std::string> sender_prefix_;    ///< e.g. `ip netns exec NS`
  std::vector<std::string> receiver_prefix_;
  std::vector<std::string> transport_args_;   ///< e.g. --insecure for TCP beyond loopback
};

TEST_F(Bridge, EveryFrameCrossesInOrderWithItsContentAndMetadata) {
  test::Watchdog watchdog(120s);
  constexpr std::uint64_t kFrames = 400;
  Child receiver(receive());
  Child sender(send());
  Child producer(acquire(kFrames));
  auto reader = far_reader();
  std::uint64_t next = 0;
  read_far(reader, kFrames, next);
  ASSERT_EQ(test::finish(producer, 30s), 0) << producer.err();
  sender.signal(SIGTERM);
  EXPECT_EQ(test::finish(sender, 30s), 0) << sender.err();
  EXPECT_TRUE(contains(receiver.err(), "ended by the sender")) << receiver.err();
  receiver.signal(SIGTERM);
  EXPECT_EQ(test::finish(receiver, 30s), 0) << receiver.err();
  const auto near = test::ring_status(near_);
  ASSERT_TRUE(near.has_value());
  EXPECT_EQ(near->evictions, 0U);
  EXPECT_EQ(near->frames_dropped, 0U);
}

void Bridge::receiver_killed_and_restarted_mid_stream() {
  test::Watchdog watchdog(150s);
  constexpr std::uint64_t kFrames = 600;
  auto receiver = std::make_unique<Child>(receive());
  Child sender(send());
  Child producer(acquire(kFrames, 400));
  auto reader = far_reader();
  std::uint64_t next = 0;
  read_far(reader, 150, next);
  receiver->signal(SIGKILL);
  (void)receiver->wait(10s);
  receiver = std::make_unique<Child>(receive());
  read_far(reader, kFrames - 150, next);
  EXPECT_EQ(next, kFrames);
  ASSERT_EQ(test::finish(producer, 60s), 0) << producer.err();
  EXPECT_TRUE(contains(receiver->err(), "continuing at sequence")) << receiver->err();
  EXPECT_TRUE(contains(sender.err(), "starting a new session")) << "the sender resumed in a new session: " << sender.err();
  sender.signal(SIGTERM);
  EXPECT_EQ(test::finish(sender, 30s), 0) << sender.err();
}

TEST_F(Bridge, ASendersFrameLimitCountsFromItsFirstSessionNotFromAResume) {
  test::Watchdog watchdog(150s);
  auto receiver = std::make_unique<Child>(receive());
  Child sender(send({"--frames", "300"}));
  Child producer(acquire(600, 400));
  auto reader = far_reader();
  std::uint64_t next = 0;
  read_far(reader, 150, next);
  receiver->signal(SIGKILL);
  (void)receiver->wait(10s);
  receiver = std::make_unique<Child>(receive());
  read_far(reader, 150, next);
  ASSERT_EQ(test::finish(sender, 60s), 0) << sender.err();
  EXPECT_TRUE(contains(sender.err(), "starting a new session")) << sender.err();
  EXPECT_FALSE(reader.read(0s).has_value()) << "300 frames in all, not 300 more after the resume";
  const auto near = test::ring_status(near_);
  ASSERT_TRUE(near.has_value());
  const auto bridge = test::consumer_named(*near, "bridge");
  EXPECT_FALSE(bridge.has_value()) << "the sender detached after its 300th acknowledged frame";
}

void Bridge::sender_killed_and_restarted() {
  test::Watchdog watchdog(150s);
  constexpr std::uint64_t kFrames = 600;
  Child receiver(receive());
  auto sender = std::make_unique<Child>(send({"--dead-timeout-s", "30"}));
  Child producer(acquire(kFrames, 400));
  auto reader = far_reader();
  std::uint64_t next = 0;
  read_far(reader, 200, next);
  sender->signal(SIGKILL);
  (void)sender->wait(10s);
  sender = std::make_unique<Child>(send({"--dead-timeout-s", "30"}));
  read_far(reader, kFrames - 200, next);
  ASSERT_EQ(test::finish(producer, 60s), 0) << producer.err();
  EXPECT_TRUE(contains(sender->err(), "resumed at sequence")) << sender->err();
  const auto near = test::ring_status(near_);
  ASSERT_TRUE(near.has_value());
  EXPECT_EQ(near->evictions, 0U) << "the restarted sender came back inside its dead timeout";
  sender->signal(SIGTERM);
  EXPECT_EQ(test::finish(*sender, 30s), 0) << sender->err();
}

// The far recorder stops (SIGSTOP): the receiver waits for a slot and grants no credit, the
// sender's cursor stays, and the near producer evicts the sender after its 1 s stall timeout.
// The frames lost there are a gap in the far recorder's manifest, with the same bounds.
void Bridge::far_recorder_stalled_until_the_sender_is_evicted() {
  test::Watchdog watchdog(150s);
  const test::TempDir dir;
  Child receiver(receive({"--slots", "4", "--window", "2"}));
  Child sender(send({"--stall-timeout-s", "1"}));
  Child producer(test::framering_argv({"acquire", "--instance", near_, "--scene", "testpattern", "--width", "64",
                                       "--height", "48", "--rate-hz", "200", "--slots", "8", "--wait-for-consumers",
                                       "1", "--claim-timeout-ms", "60000"}));
  Child recorder(test::framering_argv({"record", "--instance", far_, "--ring", "raw", "--dest", dir.path().string(),
                                       "--wait-for-ring-s", "60", "--stall-timeout-s", "100", "--log-level", "info"}));
  ASSERT_TRUE(far_recorded(10)) << recorder.err() << receiver.err();
  recorder.signal(SIGSTOP);
  const auto published_at_eviction = near_published_at_eviction();
  ASSERT_TRUE(published_at_eviction.has_value()) << sender.err();
  recorder.signal(SIGCONT);
  ASSERT_TRUE(far_recorded(*published_at_eviction + 20)) << "frames after the gap are recorded: " << recorder.err();
  producer.signal(SIGTERM);
  EXPECT_EQ(test::finish(producer, 30s), 0) << producer.err();
  const auto near = test::ring_status(near_);  // while the sender still has its entry
  ASSERT_TRUE(near.has_value());
  const auto bridge = test::consumer_named(*near, "bridge");
  ASSERT_TRUE(bridge.has_value());
  EXPECT_EQ(bridge->gaps, 1U);
  sender.signal(SIGTERM);
  EXPECT_EQ(test::finish(sender, 30s), 0) << sender.err();
  ASSERT_TRUE(test::wait_until(
      [&] {
        const auto s = test::ring_status(far_);
        const auto rec = s ? test::consumer_named(*s, "record") : std::nullopt;
        return rec && rec->cursor == s->published;
      },
      60s))
      << recorder.err();
  recorder.signal(SIGTERM);
  EXPECT_NE(test::finish(recorder, 30s), -1) << recorder.err();

  const auto recording = only_recording(dir.path());
  const auto inspect = test::run(test::framering_argv({"inspect", recording.string(), "--json"}), 30s);
  EXPECT_EQ(inspect.exit_code, 3) << "frames were lost: " << inspect.out << inspect.err;
  const auto report = nlohmann::json::parse(inspect.out, nullptr, false);
  ASSERT_TRUE(report.is_object()) << inspect.out;
  EXPECT_EQ(report["consistent"], true) << inspect.out;
  ASSERT_EQ(report["gaps"].size(), 1U) << inspect.out;
  EXPECT_EQ(report["gaps"][0]["first"], bridge->last_gap_first) << "the far gap is the near gap: " << inspect.out;
  EXPECT_EQ(report["gaps"][0]["last"], bridge->last_gap_last) << inspect.out;
  EXPECT_EQ(report["frames_lost"], bridge->last_gap_last - bridge->last_gap_first + 1) << inspect.out;
  const auto pages = test::tifffile_check(recording, dir.path());
  EXPECT_EQ(pages["bad"], nlohmann::json::array()) << "every recorded page is its frame";
  EXPECT_TRUE(contains(receiver.err(), "lost on the sending side")) << receiver.err();
}

// Every mode sends each frame straight from its slot; the receiver publishes it only once the
// sender's VERDICT says the slot stayed intact while ZeroMQ read it. Here it does not: 640x480
// Mono16 frames (600 KiB) do not fit in the ipc socket's buffers, so with the receiver stopped
// ZeroMQ is stuck in the middle of one; the near producer evicts the sender and overwrites the
// slot; then the receiver goes on, receives the mixed frame whole, and must drop it.
TEST_F(Bridge, AFrameOverwrittenWhileZeroMqSentItFromItsSlotIsDroppedAndTheGapCrosses) {
  test::Watchdog watchdog(150s);
  Child receiver(receive({"--window", "4"}));
  // A long --ack-timeout-s: the session must outlast the receiver's stop, so that the frame is
  // judged in it (a new session would drop it unjudged, which another test covers).
  Child sender(test::framering_argv({"bridge", "send", "--instance", near_, "--ring", "raw", "--to", endpoint_,
                                     "--ack-timeout-s", "20", "--stall-timeout-s", "0.3", "--log-level", "info"}));
  // A producer slower than everything after it (50 Hz: the far reader keeps up even under
  // TSan), so the receiver has credit left when it stops: the next frame is sent into a socket
  // nobody reads, larger (600 KiB) than the kernel's buffer, and ZeroMQ holds it from its slot
  // when the eviction comes. At 200 Hz a slow far side had used all its credit by then and
  // nothing was in flight (the plain eviction path, which other tests cover).
  Child producer(test::framering_argv({"acquire", "--instance", near_, "--scene", "testpattern", "--width", "640",
                                       "--height", "480", "--rate-hz", "50", "--slots", "8", "--wait-for-consumers",
                                       "1", "--claim-timeout-ms", "60000"}));
  auto reader = far_reader();
  std::uint64_t next = 0;
  read_far(reader, 20, next);
  receiver.signal(SIGSTOP);
  const auto published_at_eviction = near_published_at_eviction();
  ASSERT_TRUE(published_at_eviction.has_value()) << sender.err();
  // Every slot the sender held is written again (8 slots), the one ZeroMQ reads included.
  ASSERT_TRUE(test::wait_until(
      [&] {
        const auto s = test::ring_status(near_);
        return s && s->published >= *published_at_eviction + 16;
      },
      60s))
      << producer.err();
  receiver.signal(SIGCONT);
  std::vector<ring::Gap> gaps;
  read_far(reader, 40, next, &gaps);  // checks every pixel of every frame published there
  producer.signal(SIGTERM);
  EXPECT_EQ(test::finish(producer, 30s), 0) << producer.err();
  EXPECT_TRUE(contains(sender.err(), "overwritten while ZeroMQ sent it")) << sender.err();
  EXPECT_TRUE(contains(receiver.err(), "overwritten on the sending side while it was sent")) << receiver.err();
  ASSERT_EQ(gaps.size(), 1U);
  const auto near = test::ring_status(near_);
  ASSERT_TRUE(near.has_value());
  const auto bridge = test::consumer_named(*near, "bridge");
  ASSERT_TRUE(bridge.has_value());
  EXPECT_EQ(bridge->gaps, 1U);
  EXPECT_EQ(gaps[0].first, bridge->last_gap_first) << "the far gap is the near gap";
  EXPECT_EQ(gaps[0].last, bridge->last_gap_last);
}

void Bridge::live_mode_sender_never_slows_the_producer() {
  test::Watchdog watchdog(120s);
  Child receiver(receive({"--wait-for-consumers", "0"}));
  Child sender(send({"--mode", "newest"}));
  Child producer(test::framering_argv({"acquire", "--instance", near_, "--scene", "testpattern", "--width", "64",
                                       "--height", "48", "--rate-hz", "2000"}));
  auto reader = far_reader(ring::ConsumerKind::Newest);
  std::uint64_t last = 0;
  std::uint64_t seen = 0;
  while (seen < 20) {
    const auto frame = reader.read(30s);
    ASSERT_TRUE(frame.has_value()) << sender.err();
    EXPECT_EQ(check_sequence_pattern(frame->pixels, shape_of(*frame), frame->sequence), std::nullopt);
    if (seen > 0) {
      EXPECT_GT(frame->sequence, last);
    }
    last = frame->sequence;
    ++seen;
    (void)reader.release(*frame);
  }
  producer.signal(SIGTERM);
  ASSERT_EQ(test::finish(producer, 60s), 0) << producer.err();
  const auto near = test::ring_status(near_);
  ASSERT_TRUE(near.has_value());
  EXPECT_GE(near->published, last + 1);
  EXPECT_EQ(near->blocked_s, 0.0) << "a newest sender never gates the producer";
  EXPECT_EQ(near->frames_dropped, 0U);
  sender.signal(SIGTERM);
  EXPECT_EQ(test::finish(sender, 30s), 0) << sender.err();
}

TEST_F(Bridge, ASenderWithoutAnAllowedCurveKeyGetsNothingAndTheReceiverSaysWhy) {
  test::Watchdog watchdog(120s);
  keys_ = std::filesystem::temp_directory_path() / (near_ + "-keys");
  std::filesystem::create_directories(keys_);
  for (const char* name : {"receiver", "camera", "stranger"}) {
    const auto made = test::run(test::framering_argv({"bridge", "keygen", (keys_ / name).string()}), 30s);
    ASSERT_EQ(made.exit_code, 0) << made.err;
  }
  endpoint_ = "tcp://127.0.0.1:" + std::to_string(20000 + ::getpid() % 20000);
  Child receiver(receive({"--curve-secret", (keys_ / "receiver.key").string(), "--curve-allow",
                          (keys_ / "camera.pub").string()}));
  Child stranger(send({"--curve-secret", (keys_ / "stranger.key").string(), "--curve-server",
                       (keys_ / "receiver.pub").string()}));
  Child producer(acquire(100));
  ASSERT_TRUE(test::wait_until([&] { return contains(receiver.err(), "not in --curve-allow"); }, 30s))
      << receiver.err();
  EXPECT_FALSE(std::filesystem::exists("/dev/shm/framering." + far_ + ".raw")) << "the stranger got nothing through";
  EXPECT_TRUE(test::wait_until([&] { return contains(stranger.err(), "CURVE keys match"); }, 30s)) << stranger.err();
  stranger.signal(SIGKILL);
  (void)stranger.wait(10s);

  // Same consumer name: it takes over the killed stranger's entry, at the frame it stopped at.
  Child camera(send({"--curve-secret", (keys_ / "camera.key").string(), "--curve-server",
                     (keys_ / "receiver.pub").string()}));
  auto reader = far_reader();
  std::uint64_t next = 0;
  read_far(reader, 100, next);
  EXPECT_TRUE(contains(camera.err(), "(CURVE)")) << camera.err();
}

TEST_F(Bridge, TwoPipelinesJoinedByBridgeStagesRecordEveryFrameOnTheFarSideComplete) {
  test::Watchdog watchdog(180s);
  constexpr int kFrames = 300;
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("framering-" + near_);
  std::filesystem::create_directories(dir);
  keys_ = dir;  // removed in TearDown
  const auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return (dir / name).string();
  };
  const std::string far_config = write("far.toml", fmt::format(R"(instance = "{}"
[[stage]]
name = "receiver"
run = "bridge receive"
ring = "raw"
listen = "{}"

[[stage]]
name = "record"
ring = "raw"
dest = "{}"
)",
                                                                far_, endpoint_, (dir / "recordings").string()));
  const std::string near_config = write("near.toml", fmt::format(R"(instance = "{}"
{}
[[stage]]
name = "sender"
run = "bridge send"
ring = "raw"
to = "{}"
)",
                                                                  near_, test::pattern_acquire_stage(200), endpoint_));
  Child far(test::framering_argv({"run", "--config", far_config}));
  Child near(test::framering_argv({"run", "--config", near_config, "--frames", std::to_string(kFrames)}));
  ASSERT_EQ(test::finish(near, 120s), 0) << near.err();
  ASSERT_TRUE(test::wait_until(
      [&] {
        const auto s = test::ring_status(far_);
        const auto rec = s ? test::consumer_named(*s, "record") : std::nullopt;
        return rec && rec->cursor == static_cast<std::uint64_t>(kFrames);
      },
      60s))
      << far.err();
  far.signal(SIGTERM);
  ASSERT_EQ(test::finish(far, 60s), 0) << far.err();
  const auto recording = only_recording(dir / "recordings");
  const auto inspect = test::run(test::framering_argv({"inspect", recording.string(), "--json"}), 30s);
  EXPECT_EQ(inspect.exit_code, 0) << inspect.out << inspect.err;
  const auto report = nlohmann::json::parse(inspect.out, nullptr, false);
  ASSERT_TRUE(report.is_object()) << inspect.out;
  EXPECT_EQ(report["consistent"], true) << inspect.out;
  EXPECT_EQ(report["complete"], true) << inspect.out;
  EXPECT_EQ(report["frames_recorded"], kFrames) << inspect.out;
  EXPECT_EQ(report["frames_lost"], 0) << inspect.out;
  EXPECT_EQ(report["first_sequence"], 0) << inspect.out;
  EXPECT_EQ(report["gaps"], nlohmann::json::array()) << inspect.out;
}

TEST_F(Bridge, AReceiverKilledAndRestartedMidStreamLosesNothingAndDuplicatesNothing) {
  receiver_killed_and_restarted_mid_stream();
}
TEST_F(Bridge, ASenderKilledAndRestartedResumesFromTheLastAcknowledgedFrame) { sender_killed_and_restarted(); }
TEST_F(Bridge, AFarRecorderStalledUntilTheSenderIsEvictedWritesTheNearGapWithItsBounds) {
  far_recorder_stalled_until_the_sender_is_evicted();
}
TEST_F(Bridge, ALiveModeSenderNeverSlowsTheProducer) { live_mode_sender_never_slows_the_producer(); }

// Two network namespaces joined by a veth pair (root only): the sender in one, the receiver in
// the other, random packet loss on the receiver's side (iptables statistic) and an outage (the
// link down for 4 s, past the bridge's 3 s heartbeat timeout, so the connection is lost and
// the session resumes). Rings and the far reader stay in this namespace: /dev/shm is shared.
class BridgeNetns : public Bridge {
 protected:
  void SetUp() override {
    Bridge::SetUp();
    if (::geteuid() != 0) GTEST_SKIP() << "network namespaces need root";
    const std::string tag = std::to_string(::getpid() % 100000);
    ns_a_ = "frA" + tag;
    ns_b_ = "frB" + tag;
    veth_a_ = "frva" + tag;
    veth_b_ = "frvb" + tag;
    const std::string net = fmt::format("10.{}.{}", 100 + ::getpid() % 100, ::getpid() / 100 % 250);
    address_b_ = net + ".2";
    for (const auto& command : std::vector<std::string>{
             "ip netns add " + ns_a_, "ip netns add " + ns_b_,
             fmt::format("ip link add {} netns {} type veth peer name {} netns {}", veth_a_, ns_a_, veth_b_, ns_b_),
             fmt::format("ip -n {} addr add {}.1/24 dev {}", ns_a_, net, veth_a_),
             fmt::format("ip -n {} addr add {}/24 dev {}", ns_b_, address_b_, veth_b_),
             fmt::format("ip -n {} link set {} up", ns_a_, veth_a_), fmt::format("ip -n {} link set {} up", ns_b_, veth_b_),
             fmt::format("ip -n {} link set lo up", ns_a_), fmt::format("ip -n {} link set lo up", ns_b_)}) {
      ASSERT_EQ(shell(command), 0) << command;
    }
    endpoint_ = fmt::format("tcp://{}:5570", address_b_);
    sender_prefix_ = {"/usr/bin/ip", "netns", "exec", ns_a_};
    receiver_prefix_ = {"/usr/bin/ip", "netns", "exec", ns_b_};
    transport_args_ = {"--insecure"};  // a real network interface: no CURVE in these tests
  }
  void TearDown() override {
    if (!ns_a_.empty()) {
      (void)shell("ip netns del " + ns_a_);  // deletes the veth pair with it
      (void)shell("ip netns del " + ns_b_);
    }
    Bridge::TearDown();
  }
  static int shell(const std::string& command) {
    return test::run({"/bin/sh", "-c", command + " 2>&1"}, 30s).exit_code;
  }
  [[nodiscard]] std::vector<std::string> in_namespace(const std::string& ns, std::vector<std::string> argv) const {
    argv.insert(argv.begin(), {"/usr/bin/ip", "netns", "exec", ns});
    return argv;
  }

  std::string ns_a_, ns_b_, veth_a_, veth_b_, address_b_;
};

TEST_F(BridgeNetns, WithPacketLossAndAnOutageAFarRecorderRecordsEveryFrameOnceAndIntact) {
  test::Watchdog watchdog(240s);
  constexpr std::uint64_t kFrames = 600;
  ASSERT_EQ(shell(fmt::format("ip netns exec {} iptables -A INPUT -m statistic --mode random --probability 0.05 -j DROP",
                              ns_b_)),
            0)
      << "iptables with the statistic match";
  const test::TempDir dir;
  Child receiver(receive());
  Child sender(send({"--stall-timeout-s", "0"}));
  Child producer(acquire(kFrames, 100));
  // The far side's own recorder (in the receiver's namespace: it shares /dev/shm with it).
  Child recorder(in_namespace(ns_b_, test::framering_argv({"record", "--instance", far_, "--ring", "raw", "--dest",
                                                           dir.path().string(), "--frames", std::to_string(kFrames),
                                                           "--wait-for-ring-s", "60", "--log-level", "info"})));
  ASSERT_TRUE(far_recorded(150)) << receiver.err() << recorder.err();
  ASSERT_EQ(shell(fmt::format("ip -n {} link set {} down", ns_a_, veth_a_)), 0);
  // The outage: nothing is acknowledged, and after --ack-timeout-s the sender starts a new
  // session (a real wait, on what the sender says it did).
  ASSERT_TRUE(test::wait_until([&] { return contains(sender.err(), "starting a new session"); }, 60s)) << sender.err();
  ASSERT_EQ(shell(fmt::format("ip -n {} link set {} up", ns_a_, veth_a_)), 0);
  ASSERT_EQ(test::finish(recorder, 120s), 0) << "the recorder's --frames reached: " << recorder.err();
  ASSERT_EQ(test::finish(producer, 60s), 0) << producer.err();
  sender.signal(SIGTERM);
  EXPECT_EQ(test::finish(sender, 30s), 0) << sender.err();
  const auto near = test::ring_status(near_);
  ASSERT_TRUE(near.has_value());
  EXPECT_EQ(near->evictions, 0U);

  const auto recording = only_recording(dir.path());
  const auto inspect = test::run(test::framering_argv({"inspect", recording.string(), "--json"}), 30s);
  EXPECT_EQ(inspect.exit_code, 0) << inspect.out << inspect.err;
  const auto report = nlohmann::json::parse(inspect.out, nullptr, false);
  ASSERT_TRUE(report.is_object()) << inspect.out;
  EXPECT_EQ(report["complete"], true) << inspect.out;
  EXPECT_EQ(report["frames_recorded"], kFrames) << inspect.out;
  EXPECT_EQ(report["gaps"], nlohmann::json::array()) << inspect.out;
  const auto pages = test::tifffile_check(recording, dir.path());
  EXPECT_EQ(pages["frames"], kFrames);
  EXPECT_EQ(pages["bad"], nlohmann::json::array()) << "every page is the frame its index row names";
  std::vector<std::uint64_t> in_order(kFrames);
  for (std::uint64_t i = 0; i < kFrames; ++i) in_order[i] = i;
  EXPECT_EQ(pages["sequences"], nlohmann::json(in_order)) << "every frame once, in order";
}

TEST_F(BridgeNetns, AReceiverKilledAndRestartedMidStreamLosesNothingAndDuplicatesNothing) {
  receiver_killed_and_restarted_mid_stream();
}
TEST_F(BridgeNetns, ASenderKilledAndRestartedResumesFromTheLastAcknowledgedFrame) { sender_killed_and_restarted(); }
TEST_F(BridgeNetns, AFarRecorderStalledUntilTheSenderIsEvictedWritesTheNearGapWithItsBounds) {
  far_recorder_stalled_until_the_sender_is_evicted();
}
TEST_F(BridgeNetns, ALiveModeSenderNeverSlowsTheProducer) { live_mode_sender_never_slows_the_producer(); }

TEST_F(Bridge, AnUnencryptedEndpointBeyondLoopbackIsRefusedAtStart) {
  const auto result = test::run(test::framering_argv({"bridge", "send", "--instance", near_, "--to",
                                                      "tcp://192.0.2.1:5570", "--wait-for-ring-s", "0"}),
                                30s);
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_TRUE(contains(result.err, "unencrypted")) << result.err;
  EXPECT_TRUE(contains(result.err, "--insecure")) << result.err;
}

}  // namespace
}  // namespace framering
