// The real `framering acquire --source aravis` against Aravis' GigE Vision camera emulator
// (arv-fake-gv-camera-0.8 on loopback, started and stopped by each test), read by consumers
// through this process's own mapping: full-HD Mono16 frames arrive bit-exact with consistent
// frame ids across the 16-bit wrap; killing and restarting the camera mid-run is an outage the
// ring survives (recorded, counted, sequence continuing); injected packet loss is counted and no
// damaged frame reaches the ring; ring slots lent to Aravis (the default) carry every frame
// bit-exact to every consumer, are never lent while an every consumer holds them (the drops
// that causes are carried by the next frame), are all taken back when the camera dies, and a
// padded ring stride or --no-lend falls back to copying; a missing camera, or one another program controls, is a clear
// error, or waited for on request;
// `framering run` shows the camera's losses in its summary; `framering cameras` lists the emulator.
//
// The emulator binds the fixed GigE Vision control port 3956: every test that starts it holds
// the CTest resource lock `aravis_emulator`.
//
// Emulator facts (PEERS.md, confirmed by these tests): Mono16 pixel(x, y) =
// (256 * (x + y + frame_id)) % 65535, little-endian; 16-bit frame ids wrapping 65535 -> 1, a
// fresh emulator starting near 65400.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "framering/common/ring_reader.hpp"
#include "framering/common/ring_writer.hpp"
#include "http_client.hpp"
#include "http_run.hpp"
#include "ring_process.hpp"
#include "test_support.hpp"

namespace framering::acquire {
namespace {

using namespace std::chrono_literals;
using test::Child;

constexpr const char* kEmulator = "/usr/bin/arv-fake-gv-camera-0.8";
constexpr const char* kArvTool = "/usr/bin/arv-tool-0.8";
constexpr std::uint64_t kIdModulus = 65535;  // ids 1..65535; 0 is never used

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Frames lost between two emulator frame ids, written independently of acquire's frame_id_gap:
// the ids count 1, 2, ..., 65535, 1, 2, ... so the distance is taken modulo 65535.
std::uint64_t expected_gap(std::uint64_t previous, std::uint64_t next) {
  const std::uint64_t step = (next + kIdModulus - previous) % kIdModulus;  // 1 when consecutive
  return step == 0 ? 0 : step - 1;
}

// The emulator's Mono16 image for `frame_id`, checked row by row against a table of the
// sequence (256 * k) % 65535: row y of frame f is that table from k = (y + f) % 65535.
class EmulatorPattern {
 public:
  explicit EmulatorPattern(std::uint32_t width) : width_(width), table_(kIdModulus + width + 1) {
    for (std::size_t k = 0; k < table_.size(); ++k) table_[k] = static_cast<std::uint16_t>((256 * k) % kIdModulus);
  }
  // Rows that differ from the formula (0 = bit-exact).
  [[nodiscard]] std::uint32_t bad_rows(const ring::FrameView& frame) const {
    std::uint32_t bad = 0;
    for (std::uint32_t y = 0; y < frame.height; ++y) {
      const std::uint64_t k = (y + frame.camera_frame_id) % kIdModulus;
      if (std::memcmp(frame.pixels.data() + y * frame.stride_bytes, &table_[k], std::size_t{width_} * 2) != 0) ++bad;
    }
    return bad;
  }

 private:
  std::uint32_t width_;
  std::vector<std::uint16_t> table_;
};

// One emulator on 127.0.0.1 with a serial of this test's own; killed (SIGKILL) at destruction.
class Emulator {
 public:
  explicit Emulator(std::string serial, int lost_packets_per_thousand = 0) : serial_(std::move(serial)) {
    std::vector<std::string> argv{kEmulator, "-i", "127.0.0.1", "-s", serial_};
    if (lost_packets_per_thousand > 0) {
      argv.emplace_back("-r");
      argv.push_back(std::to_string(lost_packets_per_thousand));
    }
    child_ = std::make_unique<Child>(argv);
  }
  [[nodiscard]] std::string id() const { return "Aravis-Fake-" + serial_; }
  // Waits until it answers GVCP on 127.0.0.1 with its serial (arv-tool reads DeviceID).
  [[nodiscard]] bool wait_ready(std::chrono::milliseconds timeout) const {
    return test::wait_until(
        [&] {
          const auto r = test::run({kArvTool, "-a", "127.0.0.1", "control", "DeviceID"}, 10s);
          return contains(r.out, "DeviceID = " + serial_);
        },
        timeout);
  }
  void kill() { child_.reset(); }  // Child's destructor SIGKILLs and reaps
  [[nodiscard]] bool running() const { return child_ && child_->running(); }

 private:
  std::string serial_;
  std::unique_ptr<Child> child_;
};

class AravisSourceStage : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kEmulator) || !std::filesystem::exists(kArvTool)) {
      GTEST_SKIP() << kEmulator << " or " << kArvTool << " is missing (Debian aravis-tools, aravis-tools-cli)";
    }
    instance_ = test::unique_instance();
    serial_ = "T" + std::to_string(::getpid());
  }
  void TearDown() override {
    if (!instance_.empty()) test::remove_instance(instance_);
  }

  [[nodiscard]] static ring::RingGeometry geometry(std::uint32_t width, std::uint32_t height, std::uint32_t slots = 32,
                                                   std::uint64_t stride_bytes = 0,
                                                   PixelFormat format = PixelFormat::Mono16) {
    ring::RingGeometry g;
    g.frame.width = width;
    g.frame.height = height;
    g.frame.pixel_format = format;
    g.frame.stride_bytes = stride_bytes;
    g.slot_count = slots;
    g.max_consumers = 16;
    return g;
  }

  // Creates the ring with acquire's geometry so that a consumer attached now sees frame 0.
  void create_ring(const ring::RingGeometry& g) const { const auto writer = ring::RingWriter::create_or_attach(instance_, "raw", g); }

  [[nodiscard]] ring::RingReader every(const ring::RingGeometry& g) const {
    ring::ReaderOptions options;
    options.name = "check";
    options.kind = ring::ConsumerKind::Every;
    options.expected = g;
    options.stall_timeout = 100s;
    return ring::RingReader::attach(instance_, "raw", options);
  }

  [[nodiscard]] std::vector<std::string> acquire(const std::string& camera, std::uint32_t width, std::uint32_t height,
                                                 std::vector<std::string> extra, std::uint32_t slots = 32) const {
    std::vector<std::string> args{"acquire", "--instance", instance_, "--log-level", "info", "--source", "aravis",
                                  "--camera", camera, "--pixel-format", "Mono16", "--width", std::to_string(width),
                                  "--height", std::to_string(height), "--slots", std::to_string(slots),
                                  "--stats-interval-s", "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    return test::framering_argv(std::move(args));
  }

  std::string instance_;
  std::string serial_;
};

// What acquire's last lines say about lending: frames Aravis wrote straight into lent slots, and
// frames copied into their slot (nullopt when the line is missing).
struct LendCounts {
  std::uint64_t in_place = 0;
  std::uint64_t copied = 0;
};
std::optional<LendCounts> lend_counts(const std::string& log) {
  static const std::regex line(R"((\d+) frames written by Aravis straight into lent ring slots, (\d+) copied into their slot)");
  std::smatch m;
  if (!std::regex_search(log, m, line)) return std::nullopt;
  return LendCounts{std::stoull(m[1].str()), std::stoull(m[2].str())};
}

// What a test saw in the frames it read: content, sequence and camera ids, each frame checked by
// check(); read() reads and checks a run of them.
struct FrameChecks {
  std::uint64_t frames = 0;
  std::uint64_t bad_rows = 0;
  std::uint64_t torn = 0;
  std::uint64_t id_mismatch = 0;  // source_frames_lost != the id gap
  std::uint64_t source_lost = 0;
  std::uint64_t wraps = 0;
  std::uint64_t max_lost_one_frame = 0;
  bool has_previous = false;
  std::uint64_t previous_id = 0;
  std::uint64_t next_sequence = 0;
  std::uint64_t sequence_errors = 0;

  void check(const ring::FrameView& f, const EmulatorPattern& pattern, bool after_outage = false) {
    bad_rows += pattern.bad_rows(f);
    if (f.sequence != next_sequence) ++sequence_errors;
    next_sequence = f.sequence + 1;
    if (has_previous) {
      if (f.camera_frame_id < previous_id) ++wraps;
      // After an outage the camera restarts its counter: acquire reports an estimate instead.
      if (!after_outage && f.source_frames_lost != expected_gap(previous_id, f.camera_frame_id)) ++id_mismatch;
    }
    if (f.camera_frame_id == 0 || f.camera_frame_id > 65535) ++id_mismatch;
    source_lost += f.source_frames_lost;
    max_lost_one_frame = std::max(max_lost_one_frame, f.source_frames_lost);
    has_previous = true;
    previous_id = f.camera_frame_id;
    ++frames;
  }

  // Reads `count` frames from `reader`, checking each against `pattern` and counting the torn;
  // false (with a gtest failure naming the frame and `producer`'s log) when one does not come
  // within 20 s.
  bool read(ring::RingReader& reader, const Child& producer, std::uint64_t count, const EmulatorPattern& pattern) {
    for (std::uint64_t i = 0; i < count; ++i) {
      const auto frame = reader.read(20s);
      if (!frame) {
        ADD_FAILURE() << "frame " << frames << ": none within 20 s: " << producer.err();
        return false;
      }
      check(*frame, pattern);
      if (!reader.release(*frame)) ++torn;
    }
    return true;
  }
};

TEST_F(AravisSourceStage, FullHdMono16FramesArriveBitExactWithFrameIdsAcrossTheWrap) {
  test::Watchdog watchdog(100s);
  Emulator camera(serial_);
  ASSERT_TRUE(camera.wait_ready(20s)) << "the emulator did not answer on 127.0.0.1";
  constexpr std::uint64_t kFrames = 220;
  const auto g = geometry(1920, 1080);
  create_ring(g);
  auto reader = every(g);
  const EmulatorPattern pattern(1920);

  Child producer(acquire(camera.id(), 1920, 1080, {"--rate-hz", "50", "--frames", std::to_string(kFrames)}));

  FrameChecks checks;
  for (std::uint64_t i = 0; i < kFrames; ++i) {
    const auto frame = reader.read(20s);
    ASSERT_TRUE(frame.has_value()) << "frame " << i << ": " << producer.err();
    ASSERT_EQ(frame->width, 1920U);
    ASSERT_EQ(frame->height, 1080U);
    ASSERT_EQ(frame->pixel_format, PixelFormat::Mono16);
    EXPECT_GT(frame->timestamp_ns, 1'600'000'000'000'000'000ULL) << "CLOCK_REALTIME ns";
    checks.check(*frame, pattern);
    if (!reader.release(*frame)) ++checks.torn;
  }
  const int code = test::finish(producer, 30s);
  EXPECT_EQ(checks.bad_rows, 0U) << "rows that differ from (256 * (x + y + frame_id)) % 65535";
  EXPECT_EQ(checks.torn, 0U);
  EXPECT_EQ(checks.sequence_errors, 0U);
  EXPECT_EQ(checks.id_mismatch, 0U) << "source_frames_lost must equal the frame-id gap (modulo the 16-bit wrap)";
  EXPECT_GE(checks.wraps, 1U) << "a fresh emulator starts near 65400: 220 frames cross 65535 -> 1";
  const auto status = test::ring_status(instance_);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->published, kFrames);
  EXPECT_EQ(status->source.frames_lost + status->frames_dropped, checks.source_lost) << "the ring's total is the sum of the per-frame counts";
  EXPECT_EQ(status->source.outages, 0U);
  EXPECT_EQ(code, checks.source_lost > 0 ? 3 : 0) << producer.err();
  EXPECT_TRUE(contains(producer.err(), "Aravis-Fake-" + serial_)) << producer.err();
  EXPECT_TRUE(contains(producer.err(), "1920x1080")) << producer.err();
  std::printf("[ info ] %llu frames, %llu source frames lost, %llu wrap(s)\n", static_cast<unsigned long long>(checks.frames),
              static_cast<unsigned long long>(checks.source_lost), static_cast<unsigned long long>(checks.wraps));
}

// Issue 12: colour and Bayer frames as the camera delivers them, no conversion in the producer.
// The emulator draws both from one 256-colour table (a jet colour map) indexed by the Mono8
// ramp (x + y + frame_id) % 255: RGB8 pixel = table[index]; its "BayerRG8" is one channel of
// table[index] per pixel, B at even x and even y, R at odd x and odd y, G elsewhere (Aravis
// 0.8.26's emulator puts blue top-left under the RG name). The test learns the table from the
// first RGB8 frame (256 pixels per row: every index) and checks every sample of every frame of
// both formats against it, bit for bit.
TEST_F(AravisSourceStage, Rgb8AndBayerFramesArriveAsTheCameraDrawsThemBitExact) {
  test::Watchdog watchdog(110s);
  Emulator camera(serial_);
  ASSERT_TRUE(camera.wait_ready(20s)) << "the emulator did not answer on 127.0.0.1";
  constexpr std::uint32_t kWidth = 256;
  constexpr std::uint32_t kHeight = 8;
  constexpr std::uint64_t kFrames = 20;
  std::array<std::array<std::uint8_t, 3>, 255> table{};
  for (const PixelFormat format : {PixelFormat::RGB8, PixelFormat::BayerRG8}) {
    SCOPED_TRACE(std::string(to_string(format)));
    const auto g = geometry(kWidth, kHeight, 32, 0, format);
    create_ring(g);
    {
      auto reader = every(g);
      std::vector<std::string> args{"acquire", "--instance", instance_, "--source", "aravis", "--camera", camera.id(),
                                    "--pixel-format", std::string(to_string(format)), "--width", std::to_string(kWidth),
                                    "--height", std::to_string(kHeight), "--slots", "32", "--rate-hz", "50",
                                    "--frames", std::to_string(kFrames)};
      Child producer(test::framering_argv(std::move(args)));
      std::uint64_t bad_samples = 0;
      for (std::uint64_t i = 0; i < kFrames; ++i) {
        const auto frame = reader.read(20s);
        ASSERT_TRUE(frame.has_value()) << "frame " << i << ": " << producer.err();
        ASSERT_EQ(frame->pixel_format, format);
        const std::uint64_t id = frame->camera_frame_id;
        if (format == PixelFormat::RGB8 && i == 0) {
          for (std::uint32_t x = 0; x < kWidth; ++x) {
            const auto* px = reinterpret_cast<const std::uint8_t*>(frame->pixels.data()) + 3 * x;
            table[(x + id) % 255] = {px[0], px[1], px[2]};
          }
        }
        for (std::uint32_t y = 0; y < kHeight; ++y) {
          const auto* row = reinterpret_cast<const std::uint8_t*>(frame->pixels.data() + y * frame->stride_bytes);
          for (std::uint32_t x = 0; x < kWidth; ++x) {
            const auto& colour = table[(x + y + id) % 255];
            if (format == PixelFormat::RGB8) {
              if (!std::equal(colour.begin(), colour.end(), row + 3 * x)) ++bad_samples;
            } else {
              const int channel = (x % 2 == 0 && y % 2 == 0) ? 2 : (x % 2 == 1 && y % 2 == 1) ? 0 : 1;
              if (row[x] != colour[static_cast<std::size_t>(channel)]) ++bad_samples;
            }
          }
        }
        ASSERT_TRUE(reader.release(*frame));
      }
      EXPECT_EQ(bad_samples, 0U);
      const int code = test::finish(producer, 30s);
      EXPECT_TRUE(code == 0 || code == 3) << producer.err();  // 3: the camera lost frames (counted, not ours)
      EXPECT_TRUE(contains(producer.err(), std::string(to_string(format)))) << producer.err();
    }
    test::remove_instance(instance_);
  }
  const bool colour = std::any_of(table.begin(), table.end(), [](const auto& c) { return c[0] != c[2]; });
  EXPECT_TRUE(colour) << "the RGB8 frames are colour, not grey";
}

TEST_F(AravisSourceStage, CameraKilledAndRestartedIsAnOutageTheRingAndItsConsumersSurvive) {
  test::Watchdog watchdog(110s);
  auto camera = std::make_unique<Emulator>(serial_);
  ASSERT_TRUE(camera->wait_ready(20s));
  const auto g = geometry(640, 480);
  create_ring(g);
  auto reader = every(g);
  const EmulatorPattern pattern(640);
  // A newest consumer in its own process: it must ride out the outage and see frames after it.
  constexpr std::uint64_t kFramesBefore = 40;
  constexpr std::uint64_t kFramesAfter = 40;
  Child watcher(test::peer_argv("newest", instance_,
                                {"--ring", "raw", "--name", "live", "--until-sequence", std::to_string(kFramesBefore + kFramesAfter / 2),
                                 "--read-timeout-ms", "60000"}));
  ASSERT_TRUE(test::wait_attached(instance_, "live", watcher.pid(), 20s)) << watcher.err();

  // Slots are lent (16 queued on the stream) when the camera dies: acquire must take them all
  // back before it reconnects (or the ring could be written by a stream nobody reads).
  Child producer(acquire(camera->id(), 640, 480,
                         {"--lend", "--rate-hz", "100", "--camera-timeout-s", "0.5", "--reconnect-max-s", "0.5"}));

  FrameChecks checks;
  std::uint64_t last_timestamp_ns = 0;  // of the frame read before this one
  for (std::uint64_t i = 0; i < kFramesBefore; ++i) {
    const auto frame = reader.read(20s);
    ASSERT_TRUE(frame.has_value()) << "frame " << i << ": " << producer.err();
    last_timestamp_ns = frame->timestamp_ns;
    checks.check(*frame, pattern);
    if (!reader.release(*frame)) ++checks.torn;
  }
  camera->kill();
  ASSERT_TRUE(test::wait_until(
      [&] {
        const auto s = test::ring_status(instance_);
        return s && s->source.outages == 1 && s->source.connected == 0;
      },
      30s))
      << "acquire did not record the outage: " << producer.err();
  ASSERT_TRUE(producer.running()) << "acquire must keep the ring up: " << producer.err();
  // Everything published so far came before the outage: acquire is disconnected and publishes
  // again only once the camera is back. Read now, not after the restart, which a reconnect can
  // beat (it did under TSan: the first frame after the outage was then checked as an ordinary one).
  const std::uint64_t published_before = test::ring_status(instance_)->published;

  // Frames published before acquire noticed are still read; then the camera comes back.
  camera = std::make_unique<Emulator>(serial_);
  ASSERT_TRUE(camera->wait_ready(20s));
  std::uint64_t outage_gap = 0;
  bool first_after = true;
  double outage_s = 0;                  // between the last frame before the outage and the first after
  while (checks.frames < published_before + kFramesAfter) {
    const auto frame = reader.read(30s);
    ASSERT_TRUE(frame.has_value()) << "frame " << checks.frames << " after the restart: " << producer.err();
    const bool after = frame->sequence >= published_before;
    if (after && first_after) {
      outage_gap = frame->source_frames_lost;
      outage_s = static_cast<double>(frame->timestamp_ns - last_timestamp_ns) / 1e9;
      first_after = false;
    }
    last_timestamp_ns = frame->timestamp_ns;
    checks.check(*frame, pattern, after && frame->sequence == published_before);
    if (!reader.release(*frame)) ++checks.torn;
  }
  EXPECT_EQ(test::finish(watcher, 60s), 0) << "the newest consumer: " << watcher.err();
  // Every frame acquire publishes is checked, up to its last: the per-frame losses must add up to
  // the ring's totals, and frames it dropped while this reader lagged (the ring full for its claim
  // timeout) are carried by the next frame it published.
  producer.signal(SIGTERM);
  while (producer.wait(0ms) == -1) {
    const auto frame = reader.read(100ms);
    if (!frame) continue;
    checks.check(*frame, pattern);
    if (!reader.release(*frame)) ++checks.torn;
  }
  const int code = producer.exit_code();
  const std::uint64_t published = test::ring_status(instance_)->published;
  while (checks.next_sequence < published) {
    const auto frame = reader.read(20s);
    ASSERT_TRUE(frame.has_value()) << "published frame " << checks.next_sequence << " not readable";
    checks.check(*frame, pattern);
    if (!reader.release(*frame)) ++checks.torn;
  }
  EXPECT_EQ(checks.bad_rows, 0U);
  EXPECT_EQ(checks.torn, 0U);
  EXPECT_EQ(checks.sequence_errors, 0U) << "the sequence continues through the outage";
  EXPECT_EQ(checks.id_mismatch, 0U);
  EXPECT_GE(outage_gap, 1U) << "the first frame after the outage carries the estimated loss";
  // The estimate covers the whole outage, from the last frame before it to the first after it
  // (detection, reconnect and the camera's start-up), at the 100 Hz the camera was set to: not
  // just the reconnect. (The rate acquire reads back may differ from 100 Hz by the camera's
  // rounding: 2 % is allowed for that.)
  const double expected = outage_s * 100.0 - 1.0;
  EXPECT_NEAR(static_cast<double>(outage_gap), expected, std::max(2.0, 0.02 * expected))
      << outage_s << " s between the frames around the outage";
  const auto status = test::ring_status(instance_);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->source.outages, 1U);
  EXPECT_EQ(status->source.connected, 1U);
  EXPECT_EQ(status->source.frames_lost + status->frames_dropped, checks.source_lost)
      << "the camera's losses and acquire's drops are all carried by the frames";
  EXPECT_EQ(code, 3) << "frames were lost: " << producer.err();
  EXPECT_TRUE(contains(producer.err(), "camera " + camera->id() + " lost")) << producer.err();
  EXPECT_TRUE(contains(producer.err(), "back after")) << producer.err();
  EXPECT_TRUE(contains(producer.err(), "lending ring slots to Aravis")) << producer.err();
  const auto lent = lend_counts(producer.err());
  ASSERT_TRUE(lent.has_value()) << producer.err();
  EXPECT_EQ(lent->in_place + lent->copied, published);
}

// Lending (the default): Aravis' stream thread writes each frame straight into a ring slot
// claimed ahead for it. Two every consumers (this process and a ring_peer of its own) read
// every frame while slots are lent, bit-exact, in sequence, no gap; a newest one rides along.
TEST_F(AravisSourceStage, FramesWrittenIntoLentSlotsReachEveryConsumerBitExactAndInSequence) {
  test::Watchdog watchdog(100s);
  Emulator camera(serial_);
  ASSERT_TRUE(camera.wait_ready(20s));
  constexpr std::uint64_t kFrames = 200;
  const auto g = geometry(1920, 1080);
  create_ring(g);
  auto reader = every(g);
  Child peer(test::peer_argv("every", instance_,
                             {"--ring", "raw", "--name", "peer", "--frames", std::to_string(kFrames), "--read-timeout-ms",
                              "30000", "--stall-timeout-ms", "100000"}));
  ASSERT_TRUE(test::wait_attached(instance_, "peer", peer.pid(), 20s)) << peer.err();
  Child watcher(test::peer_argv("newest", instance_,
                                {"--ring", "raw", "--name", "live", "--until-sequence", std::to_string(kFrames - 1),
                                 "--read-timeout-ms", "30000"}));
  ASSERT_TRUE(test::wait_attached(instance_, "live", watcher.pid(), 20s)) << watcher.err();
  const EmulatorPattern pattern(1920);

  Child producer(acquire(camera.id(), 1920, 1080, {"--lend", "--rate-hz", "50", "--frames", std::to_string(kFrames)}));

  FrameChecks checks;
  ASSERT_TRUE(checks.read(reader, producer, kFrames, pattern));
  const int code = test::finish(producer, 30s);
  ASSERT_EQ(test::finish(peer, 30s), 0) << peer.err();
  EXPECT_EQ(test::finish(watcher, 30s), 0) << watcher.err();
  EXPECT_EQ(checks.bad_rows, 0U) << "rows that differ from (256 * (x + y + frame_id)) % 65535";
  EXPECT_EQ(checks.torn, 0U);
  EXPECT_EQ(checks.sequence_errors, 0U);
  EXPECT_EQ(checks.id_mismatch, 0U);
  const auto peer_report = test::report_of(peer.out());
  ASSERT_TRUE(peer_report.is_object()) << peer.out();
  EXPECT_EQ(peer_report["frames"], kFrames) << peer_report.dump();
  EXPECT_EQ(peer_report["first"], 0U);
  EXPECT_EQ(peer_report["last"], kFrames - 1);
  EXPECT_TRUE(peer_report["gaps"].empty()) << peer_report.dump();
  EXPECT_EQ(peer_report["out_of_order"], 0U);
  EXPECT_EQ(peer_report["torn_detected"], 0U);
  const auto status = test::ring_status(instance_);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->published, kFrames);
  EXPECT_EQ(status->source.frames_lost + status->frames_dropped, checks.source_lost);
  EXPECT_EQ(code, checks.source_lost > 0 ? 3 : 0) << producer.err();
  EXPECT_TRUE(contains(producer.err(), "lending ring slots to Aravis: 16 queued on the stream")) << producer.err();
  const auto lent = lend_counts(producer.err());
  ASSERT_TRUE(lent.has_value()) << producer.err();
  EXPECT_EQ(lent->in_place + lent->copied, kFrames);
  EXPECT_GT(lent->in_place, 0U) << "no frame was written in place: " << producer.err();
  std::printf("[ info ] %llu frames in place, %llu copied (the first ones, queued before the ring existed, and any behind a failed one), %llu source frames lost\n",
              static_cast<unsigned long long>(lent->in_place), static_cast<unsigned long long>(lent->copied),
              static_cast<unsigned long long>(checks.source_lost));
}

// An every consumer that stops releasing holds the ring: slots it holds are not lent (the
// stream gets acquire's own buffers instead), frames wait for a slot up to --claim-timeout-ms
// and are then dropped; every drop is carried by the next published frame, and once the
// consumer reads again it gets every published frame, bit-exact, in sequence.
TEST_F(AravisSourceStage, AnEveryConsumerHoldingTheRingStopsTheLendingAndItsDropsAreCarriedByTheNextFrame) {
  test::Watchdog watchdog(100s);
  Emulator camera(serial_);
  ASSERT_TRUE(camera.wait_ready(20s));
  constexpr std::uint64_t kFrames = 120;
  constexpr std::uint64_t kReadBeforeHolding = 10;
  const auto g = geometry(640, 480, 8);
  create_ring(g);
  auto reader = every(g);
  const EmulatorPattern pattern(640);

  Child producer(acquire(camera.id(), 640, 480,
                         {"--lend", "--rate-hz", "100", "--claim-timeout-ms", "100", "--frames", std::to_string(kFrames)},
                         /*slots=*/8));

  FrameChecks checks;
  ASSERT_TRUE(checks.read(reader, producer, kReadBeforeHolding, pattern));
  // Hold: read the next frame and keep it. The producer fills the ring's other slots, then drops.
  {
    const auto held = reader.read(20s);
    ASSERT_TRUE(held.has_value()) << producer.err();
    ASSERT_TRUE(test::wait_until(
        [&] {
          const auto s = test::ring_status(instance_);
          return s && s->frames_dropped >= 5;
        },
        30s))
        << "acquire never dropped a frame while the ring was held: " << producer.err();
    checks.check(*held, pattern);
    if (!reader.release(*held)) ++checks.torn;
  }
  while (checks.frames < kFrames) {
    const auto frame = reader.read(20s);
    ASSERT_TRUE(frame.has_value()) << "frame " << checks.frames << ": " << producer.err();
    checks.check(*frame, pattern);
    if (!reader.release(*frame)) ++checks.torn;
  }
  const int code = test::finish(producer, 30s);
  EXPECT_EQ(checks.bad_rows, 0U);
  EXPECT_EQ(checks.torn, 0U) << "a slot was lent while the consumer held it";
  EXPECT_EQ(checks.sequence_errors, 0U) << "drops are not holes in the sequence";
  EXPECT_EQ(checks.id_mismatch, 0U) << "each frame carries the frame-id gap before it, drops included";
  EXPECT_GE(checks.max_lost_one_frame, 1U);
  const auto status = test::ring_status(instance_);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->published, kFrames);
  EXPECT_GE(status->frames_dropped, 5U);
  EXPECT_EQ(status->source.frames_lost + status->frames_dropped, checks.source_lost)
      << "every drop is carried by a published frame";
  EXPECT_EQ(code, 3) << producer.err();
  EXPECT_TRUE(contains(producer.err(), "dropped source frame")) << producer.err();
  const auto lent = lend_counts(producer.err());
  ASSERT_TRUE(lent.has_value()) << producer.err();
  EXPECT_EQ(lent->in_place + lent->copied, kFrames);
  EXPECT_GT(lent->copied, 0U) << "frames that waited for a held slot came through acquire's own buffers";
}

// A ring whose rows are padded (--row-stride-bytes) cannot be lent (Aravis writes rows packed):
// acquire says why, once, and copies each frame row by row; the frames are bit-exact.
TEST_F(AravisSourceStage, APaddedRingStrideFallsBackToCopyingAndSaysWhy) {
  test::Watchdog watchdog(100s);
  Emulator camera(serial_);
  ASSERT_TRUE(camera.wait_ready(20s));
  constexpr std::uint64_t kFrames = 60;
  constexpr std::uint64_t kStride = 1344;  // 640 Mono16 pixels = 1280 bytes, padded to 21 x 64
  const auto g = geometry(640, 480, 32, kStride);
  create_ring(g);
  auto reader = every(g);
  const EmulatorPattern pattern(640);

  Child producer(acquire(camera.id(), 640, 480,
                         {"--rate-hz", "100", "--row-stride-bytes", std::to_string(kStride), "--frames",
                          std::to_string(kFrames)}));

  FrameChecks checks;
  for (std::uint64_t i = 0; i < kFrames; ++i) {
    const auto frame = reader.read(20s);
    ASSERT_TRUE(frame.has_value()) << "frame " << i << ": " << producer.err();
    ASSERT_EQ(frame->stride_bytes, kStride);
    checks.check(*frame, pattern);
    if (!reader.release(*frame)) ++checks.torn;
  }
  const int code = test::finish(producer, 30s);
  EXPECT_EQ(checks.bad_rows, 0U);
  EXPECT_EQ(checks.torn, 0U);
  EXPECT_EQ(checks.sequence_errors, 0U);
  EXPECT_EQ(code, checks.source_lost > 0 ? 3 : 0) << producer.err();
  EXPECT_TRUE(contains(producer.err(), "frames are copied into the ring, not written there by Aravis: the ring's rows are "
                                       "1344 bytes apart and Aravis writes them packed, 1280 bytes apart"))
      << producer.err();
  const auto lent = lend_counts(producer.err());
  ASSERT_TRUE(lent.has_value()) << producer.err();
  EXPECT_EQ(lent->in_place, 0U);
  EXPECT_EQ(lent->copied, kFrames);
}

// --no-lend: Aravis fills buffers of its own and acquire copies every frame (what the bench
// compares lending with).
TEST_F(AravisSourceStage, NoLendCopiesEveryFrameBitExact) {
  test::Watchdog watchdog(100s);
  Emulator camera(serial_);
  ASSERT_TRUE(camera.wait_ready(20s));
  constexpr std::uint64_t kFrames = 60;
  const auto g = geometry(640, 480);
  create_ring(g);
  auto reader = every(g);
  const EmulatorPattern pattern(640);

  Child producer(acquire(camera.id(), 640, 480, {"--no-lend", "--rate-hz", "100", "--frames", std::to_string(kFrames)}));

  FrameChecks checks;
  ASSERT_TRUE(checks.read(reader, producer, kFrames, pattern));
  const int code = test::finish(producer, 30s);
  EXPECT_EQ(checks.bad_rows, 0U);
  EXPECT_EQ(checks.torn, 0U);
  EXPECT_EQ(checks.sequence_errors, 0U);
  EXPECT_EQ(code, checks.source_lost > 0 ? 3 : 0) << producer.err();
  EXPECT_TRUE(contains(producer.err(), "not written there by Aravis: --no-lend")) << producer.err();
  const auto lent = lend_counts(producer.err());
  ASSERT_TRUE(lent.has_value()) << producer.err();
  EXPECT_EQ(lent->in_place, 0U);
  EXPECT_EQ(lent->copied, kFrames);
}

TEST_F(AravisSourceStage, InjectedPacketLossIsCountedAndNoDamagedFrameReachesTheRing) {
  test::Watchdog watchdog(100s);
  Emulator camera(serial_, /*lost_packets_per_thousand=*/20);
  ASSERT_TRUE(camera.wait_ready(20s));
  constexpr std::uint64_t kFrames = 150;
  const auto g = geometry(640, 480);
  create_ring(g);
  auto reader = every(g);
  const EmulatorPattern pattern(640);

  // Lending: a damaged frame's slot is never published; the frames queued behind it are
  // published one sequence earlier, so each is copied into its slot until the lending realigns.
  Child producer(acquire(camera.id(), 640, 480, {"--lend", "--rate-hz", "100", "--frames", std::to_string(kFrames)}));

  FrameChecks checks;
  ASSERT_TRUE(checks.read(reader, producer, kFrames, pattern));
  const int code = test::finish(producer, 30s);
  EXPECT_EQ(checks.bad_rows, 0U) << "a frame with a lost packet reached the ring";
  EXPECT_EQ(checks.sequence_errors, 0U) << "a damaged frame is not a hole in the sequence";
  EXPECT_EQ(checks.torn, 0U);
  EXPECT_EQ(checks.id_mismatch, 0U);
  const auto status = test::ring_status(instance_);
  ASSERT_TRUE(status.has_value());
  const auto& s = status->source;
  EXPECT_GT(s.packets_missing + s.packets_resent + s.frames_incomplete, 0U)
      << "2% of packets dropped by the emulator must show in the counters";
  EXPECT_EQ(s.frames_lost + status->frames_dropped, checks.source_lost);
  EXPECT_EQ(code, checks.source_lost > 0 ? 3 : 0) << producer.err();
  std::printf("[ info ] packets missing %llu, resent %llu; frames incomplete %llu, timed out %llu, lost %llu\n",
              static_cast<unsigned long long>(s.packets_missing), static_cast<unsigned long long>(s.packets_resent),
              static_cast<unsigned long long>(s.frames_incomplete), static_cast<unsigned long long>(s.frames_timed_out),
              static_cast<unsigned long long>(s.frames_lost));
}

TEST_F(AravisSourceStage, RunSummaryShowsTheCamerasLossCounters) {
  test::Watchdog watchdog(100s);
  Emulator camera(serial_, /*lost_packets_per_thousand=*/20);
  ASSERT_TRUE(camera.wait_ready(20s));
  const auto dir = std::filesystem::temp_directory_path() / (instance_ + "-run");
  std::filesystem::create_directories(dir);
  const auto config = dir / "camera.toml";
  {
    std::ofstream out(config);
    out << "instance = \"" << instance_ << "\"\n[[stage]]\nname = \"acquire\"\nsource = \"aravis\"\ncamera = \"" << camera.id()
        << "\"\npixel-format = \"Mono16\"\nwidth = 320\nheight = 240\nrate-hz = 100\n";
  }
  const auto summary = dir / "summary.json";
  const auto r = test::run(test::framering_argv({"run", "--config", config.string(), "--frames", "60", "--summary-json",
                                                 summary.string()}),
                           80s);
  std::ifstream in(summary);
  const auto json = nlohmann::json::parse(in, nullptr, false);
  std::filesystem::remove_all(dir);
  ASSERT_FALSE(json.is_discarded()) << r.err;
  const auto& source = json["stages"][0]["rings"]["raw"]["source"];
  ASSERT_TRUE(source.is_object()) << json.dump(2);
  EXPECT_GT(source["packets_missing"].get<std::uint64_t>() + source["frames_incomplete"].get<std::uint64_t>(), 0U)
      << json.dump(2);
  EXPECT_TRUE(contains(r.err, "acquire source (raw):")) << "the summary table names the camera's losses: " << r.err;
  EXPECT_EQ(r.exit_code, source["frames_lost"].get<std::uint64_t>() > 0 ? 3 : 0) << r.err;
}

// Under `framering run --http`: the camera's exposure changed while it streams, checked against
// the emulator's own register (read by arv-tool once acquire has let go of the camera).
TEST_F(AravisSourceStage, ExposureChangedOverHttpWhileStreamingReachesTheCameraAndTheFrames) {
  test::Watchdog watchdog(100s);
  Emulator camera(serial_);
  ASSERT_TRUE(camera.wait_ready(20s));
  const auto dir = std::filesystem::temp_directory_path() / (instance_ + "-live");
  std::filesystem::create_directories(dir);
  const auto config = dir / "camera.toml";
  std::ofstream(config) << "instance = \"" << instance_ << "\"\n[[stage]]\nname = \"acquire\"\nsource = \"aravis\"\ncamera = \""
                        << camera.id() << "\"\npixel-format = \"Mono16\"\nwidth = 320\nheight = 240\nrate-hz = 50\n";
  Child run(test::framering_argv({"run", "--config", config.string(), "--http", "127.0.0.1:0"}));
  const int port = test::wait_for_http_port(run);
  ASSERT_NE(port, 0) << run.err();
  nlohmann::json meta;
  ASSERT_TRUE(test::wait_until(
      [&] {
        meta = test::http_request(port, "GET", "/api/v1/stages/acquire/params?meta=1").json()["params"];
        return !meta.empty();
      },
      30s))
      << run.err();
  const auto exposure = std::find_if(meta.begin(), meta.end(), [](const nlohmann::json& p) { return p["name"] == "exposure_us"; });
  ASSERT_NE(exposure, meta.end()) << meta.dump(2);
  const double max = (*exposure)["max"].get<double>();
  const double target = std::max((*exposure)["min"].get<double>(), std::min(max, 12000.0));
  ASSERT_NE((*exposure)["value"].get<double>(), target) << "the test needs a change";
  const auto too_long = test::http_request(port, "PATCH", "/api/v1/stages/acquire/params",
                                           nlohmann::json{{"exposure_us", max * 10}}.dump());
  EXPECT_EQ(too_long.status, 422) << too_long.body;
  EXPECT_TRUE(contains(too_long.body, "'exposure_us' must be a number in")) << too_long.body;
  const auto reply = test::http_request(port, "PATCH", "/api/v1/stages/acquire/params",
                                        nlohmann::json{{"exposure_us", target}}.dump());
  ASSERT_EQ(reply.status, 200) << reply.body << run.err();
  const double took = reply.json()["values"]["exposure_us"].get<double>();
  EXPECT_NEAR(took, target, target * 0.01) << "the camera's read-back, within its step";
  const auto from = reply.json()["sequence"].get<std::uint64_t>();
  ring::ReaderOptions options;
  options.name = "check";
  options.kind = ring::ConsumerKind::Newest;
  auto reader = ring::RingReader::attach(instance_, "raw", options);
  for (int i = 0; i < 5; ++i) {
    const auto frame = reader.read(20s);
    ASSERT_TRUE(frame.has_value()) << run.err();
    EXPECT_GE(frame->sequence, from);
    EXPECT_EQ(frame->settings_generation, 1U) << "frame " << frame->sequence;
    (void)reader.release(*frame);
  }
  run.signal(SIGINT);
  EXPECT_EQ(test::finish(run, 60s), 0) << run.err();
  std::filesystem::remove_all(dir);
  // The camera's own register, read by Aravis' tool now that acquire has let go of the camera.
  const auto read_back = test::run({kArvTool, "-a", "127.0.0.1", "control", "ExposureTimeAbs"}, 10s);
  std::smatch m;
  const std::regex value(R"(ExposureTimeAbs = ([0-9.]+))");
  ASSERT_TRUE(std::regex_search(read_back.out, m, value)) << read_back.out << read_back.err;
  EXPECT_NEAR(std::stod(m[1]), took, 1.0) << read_back.out;
}

TEST_F(AravisSourceStage, MissingCameraAtStartIsAClearErrorNamingWhatWasLookedFor) {
  test::Watchdog watchdog(60s);
  const std::string missing = "Aravis-Fake-NONE" + serial_;
  const auto r = test::run(test::framering_argv({"acquire", "--instance", instance_, "--source", "aravis", "--camera", missing}), 40s);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "framering: no GenICam camera '" + missing + "'")) << r.err;
  EXPECT_TRUE(contains(r.err, "cameras found:")) << r.err;
  EXPECT_TRUE(contains(r.err, "--wait-for-camera")) << r.err;
  EXPECT_FALSE(test::ring_status(instance_).has_value()) << "no ring is created without a camera";
}

TEST_F(AravisSourceStage, CameraControlledByAnotherAcquireIsAClearError) {
  test::Watchdog watchdog(60s);
  Emulator camera(serial_);
  ASSERT_TRUE(camera.wait_ready(20s));
  Child first(acquire(camera.id(), 320, 240, {"--rate-hz", "50"}));
  ASSERT_TRUE(test::wait_until(
      [&] {
        const auto s = test::ring_status(instance_);
        return s && s->published > 0;
      },
      30s))
      << first.err();
  const auto r = test::run(
      test::framering_argv({"acquire", "--instance", instance_, "--ring", "second", "--source", "aravis", "--camera", camera.id()}),
      30s);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "framering: camera " + camera.id() + " (Aravis Fake) is controlled by another program")) << r.err;
  EXPECT_TRUE(first.running()) << "the first acquire goes on: " << first.err();
  first.signal(SIGTERM);
  EXPECT_NE(test::finish(first, 30s), -1);
}

TEST_F(AravisSourceStage, WaitForCameraStartsStreamingWhenTheCameraAppears) {
  test::Watchdog watchdog(100s);
  constexpr std::uint64_t kFrames = 20;
  Child producer(test::framering_argv({"acquire", "--instance", instance_, "--log-level", "info", "--source", "aravis",
                                       "--camera", "Aravis-Fake-" + serial_, "--wait-for-camera", "--reconnect-max-s",
                                       "0.5", "--pixel-format", "Mono16", "--width", "320", "--height", "240",
                                       "--rate-hz", "100", "--frames", std::to_string(kFrames)}));
  ASSERT_TRUE(test::wait_until([&] { return contains(producer.err(), "not there yet"); }, 30s))
      << "acquire should say it is waiting: " << producer.err();
  EXPECT_FALSE(test::ring_status(instance_).has_value()) << "no ring before the camera says its geometry";

  Emulator camera(serial_);
  const int code = test::finish(producer, 60s);
  const auto status = test::ring_status(instance_);
  ASSERT_TRUE(status.has_value()) << producer.err();
  EXPECT_EQ(status->published, kFrames);
  EXPECT_EQ(status->geometry.frame.width, 320U);
  EXPECT_EQ(status->geometry.frame.height, 240U);
  EXPECT_EQ(code, status->source.frames_lost > 0 ? 3 : 0) << producer.err();
}

TEST_F(AravisSourceStage, CamerasCommandListsTheEmulator) {
  test::Watchdog watchdog(60s);
  Emulator camera(serial_);
  ASSERT_TRUE(camera.wait_ready(20s));
  bool listed = false;
  nlohmann::json entry;
  // Discovery is a broadcast with a timeout: retried until it answers, with a deadline.
  ASSERT_TRUE(test::wait_until(
      [&] {
        const auto r = test::run(test::framering_argv({"cameras", "--json"}), 20s);
        if (r.exit_code != 0) return false;
        const auto json = nlohmann::json::parse(r.out, nullptr, false);
        if (json.is_discarded()) return false;
        for (const auto& c : json["genicam"]) {
          if (c["id"] == camera.id()) {
            entry = c;
            listed = true;
          }
        }
        return listed && json.contains("v4l2");
      },
      30s));
  EXPECT_EQ(entry["serial"], serial_);
  EXPECT_EQ(entry["address"], "127.0.0.1");
  EXPECT_EQ(entry["model"], "Fake");
  EXPECT_EQ(entry["vendor"], "Aravis");
  const auto table = test::run(test::framering_argv({"cameras"}), 20s);
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_TRUE(contains(table.out, "GenICam cameras")) << table.out;
  EXPECT_TRUE(contains(table.out, "V4L2 devices")) << table.out;
}

}  // namespace
}  // namespace framering::acquire
