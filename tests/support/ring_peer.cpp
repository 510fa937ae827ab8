// ring_peer.cpp: a real process that plays one role on a ring, for multi-process and fault
// tests (the acquire stage arrives with the pipeline; until then this is the test producer).
//
//   ring_peer produce --instance I --ring R --frames N [--width --height --slots --format]
//                     [--stop-at S]... [--kill-mid-write-at S]
//   ring_peer every   --instance I --ring R --name C --frames N [--verify] [--stop-after K]
//   ring_peer newest  --instance I --ring R --until-sequence S [--verify] [--stop-before-release K]
//
// Each prints one JSON object on stdout when it ends; errors go to stderr with exit code 2.
// The --stop-* options make the process SIGSTOP itself at a known point, so that a test can look
// at the ring while it is there (wait for /proc state 'T', then SIGCONT it) without sleeping.
// Frames carry the sequence pattern (framering/common/sequence_pattern.hpp), so --verify checks
// every pixel against the frame's sequence.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "framering/common/error.hpp"
#include "framering/common/logging.hpp"
#include "framering/common/ring_reader.hpp"
#include "framering/common/ring_writer.hpp"
#include "framering/common/sequence_pattern.hpp"
#include "framering/common/stop_signal.hpp"

namespace {

using namespace framering;
using namespace std::chrono_literals;

struct Options {
  std::string instance;
  std::string ring = "raw";
  std::uint32_t width = 64;
  std::uint32_t height = 48;
  std::uint32_t slots = 8;
  std::uint32_t max_consumers = 16;
  std::string format = "Mono16";
  std::uint64_t frames = 100;
  double rate_hz = 0;
  int claim_timeout_ms = 10000;
  bool group_access = false;
  std::uint64_t kill_mid_write_at = UINT64_MAX;  ///< produce: SIGKILL itself after writing half of this sequence
  std::vector<std::uint64_t> stop_at;            ///< produce: SIGSTOP itself before claiming these sequences
  // consumers
  std::string name;
  std::uint64_t until_sequence = UINT64_MAX;
  bool verify = false;
  int read_timeout_ms = 10000;
  int stall_timeout_ms = 10000;
  int dead_timeout_ms = 2000;
  std::uint64_t stop_after = UINT64_MAX;  ///< every/newest: SIGSTOP itself after this many frames
  /// every/newest: SIGSTOP itself while holding the frame of its K-th read(), before reading its
  /// pixels and releasing it (so that a test can make the producer lap it: a certain tear)
  std::uint64_t stop_before_release = UINT64_MAX;
  bool stop_before_exit = false;          ///< every/newest: SIGSTOP itself after printing, still attached
  int wait_for_segment_ms = 10000;        ///< every/newest: how long to wait for the ring to appear
  int delay_us = 0;                       ///< consumers: extra time spent per frame
};

ring::RingGeometry geometry(const Options& o) {
  ring::RingGeometry g;
  g.frame.width = o.width;
  g.frame.height = o.height;
  const auto format = parse_pixel_format(o.format);
  if (!format) throw ConfigError("--format " + o.format + " is not a PFNC name");
  g.frame.pixel_format = *format;
  g.slot_count = o.slots;
  g.max_consumers = o.max_consumers;
  return g;
}

FrameShape shape_of(const ring::FrameView& f) {
  return {f.width, f.height, f.pixel_format, f.stride_bytes};
}

void print(const nlohmann::json& j) {
  std::printf("%s\n", j.dump().c_str());
  std::fflush(stdout);
}

int produce(const Options& o) {
  ring::WriterOptions wo;
  wo.access = o.group_access ? ring::Access::Group : ring::Access::Private;
  auto writer = ring::RingWriter::create_or_attach(o.instance, o.ring, geometry(o), wo);
  const auto& h = writer.segment().header();
  const FrameShape shape{h.width, h.height, static_cast<PixelFormat>(h.pixel_format), h.stride_bytes};
  const std::uint64_t first = writer.next_sequence();
  std::uint64_t published = 0;
  std::uint64_t timeouts = 0;
  const auto period = o.rate_hz > 0 ? std::chrono::nanoseconds{static_cast<std::int64_t>(1e9 / o.rate_hz)} : 0ns;
  auto next = std::chrono::steady_clock::now();
  while (published < o.frames && !stop_requested()) {
    if (std::ranges::find(o.stop_at, writer.next_sequence()) != o.stop_at.end()) ::raise(SIGSTOP);
    auto slot = writer.claim(std::chrono::milliseconds{o.claim_timeout_ms});
    if (!slot) {
      ++timeouts;
      break;
    }
    if (slot->sequence == o.kill_mid_write_at) {
      // Die with the slot half written: the seqlock stays odd, the sequence unpublished.
      fill_sequence_pattern(slot->pixels.first(slot->pixels.size() / 2),
                        {shape.width, shape.height / 2, shape.pixel_format, shape.stride_bytes}, slot->sequence);
      ::raise(SIGKILL);
    }
    fill_sequence_pattern(slot->pixels, shape, slot->sequence);
    writer.publish({.timestamp_ns = 0, .camera_frame_id = 1000 + slot->sequence});
    ++published;
    if (period.count() > 0) {
      next += period;
      std::this_thread::sleep_until(next);  // the frame rate this producer was asked for
    }
  }
  print({{"role", "produce"}, {"first", first}, {"published", published}, {"next", writer.next_sequence()},
         {"reattached", writer.reattached()}, {"claim_timeouts", timeouts}});
  return timeouts == 0 ? 0 : 1;
}

int consume(const Options& o, ring::ConsumerKind kind) {
  ring::ReaderOptions ro;
  ro.name = o.name;
  ro.kind = kind;
  ro.stall_timeout = std::chrono::milliseconds{o.stall_timeout_ms};
  ro.dead_timeout = std::chrono::milliseconds{o.dead_timeout_ms};
  ro.wait_for_segment = std::chrono::milliseconds{o.wait_for_segment_ms};
  auto reader = ring::RingReader::attach(o.instance, o.ring, ro);
  const std::uint64_t cursor_at_start = reader.cursor();
  std::uint64_t frames = 0;
  std::uint64_t reads = 0;
  std::uint64_t bad_content = 0;
  std::uint64_t torn_shown = 0;
  std::uint64_t torn_detected = 0;
  std::uint64_t out_of_order = 0;
  std::uint64_t first = UINT64_MAX;
  std::uint64_t last = 0;
  bool have_last = false;
  nlohmann::json gaps = nlohmann::json::array();
  bool timed_out = false;
  while (frames < o.frames && !stop_requested()) {
    auto frame = reader.read(std::chrono::milliseconds{o.read_timeout_ms});
    if (!frame) {
      timed_out = true;
      break;
    }
    if (++reads == o.stop_before_release) ::raise(SIGSTOP);
    if (frame->gap) gaps.push_back({frame->gap->first, frame->gap->last});
    bool content_ok = true;
    if (o.verify) content_ok = !check_sequence_pattern(frame->pixels, shape_of(*frame), frame->sequence).has_value();
    if (frame->camera_frame_id != 1000 + frame->sequence) content_ok = false;
    if (o.delay_us > 0) std::this_thread::sleep_for(std::chrono::microseconds{o.delay_us});  // a slow consumer
    const std::uint64_t sequence = frame->sequence;
    const std::optional<ring::Gap> gap = frame->gap;
    if (!reader.release(*frame)) {
      ++torn_detected;
      continue;
    }
    if (!content_ok) {
      ++bad_content;
      ++torn_shown;
    }
    if (have_last) {
      const std::uint64_t expected = last + 1 + (gap ? gap->count() : 0);
      if (kind == ring::ConsumerKind::Every ? sequence != expected : sequence <= last) ++out_of_order;
    }
    if (first == UINT64_MAX) first = sequence;
    last = sequence;
    have_last = true;
    ++frames;
    if (frames == o.stop_after) ::raise(SIGSTOP);
    if (sequence >= o.until_sequence) break;
  }
  const auto counters = reader.counters();
  print({{"role", kind == ring::ConsumerKind::Every ? "every" : "newest"},
         {"frames", frames},
         {"first", first == UINT64_MAX ? nlohmann::json(nullptr) : nlohmann::json(first)},
         {"last", have_last ? nlohmann::json(last) : nlohmann::json(nullptr)},
         {"gaps", gaps},
         {"bad_content", bad_content},
         {"torn_shown", torn_shown},
         {"torn_detected", torn_detected},
         {"out_of_order", out_of_order},
         {"skipped", counters.frames_skipped},
         {"torn_counter", counters.frames_torn},
         {"lost_counter", counters.frames_lost},
         {"resumed", reader.resumed()},
         {"cursor_at_start", cursor_at_start},
         {"timed_out", timed_out}});
  if (o.stop_before_exit) ::raise(SIGSTOP);  // still attached: its entry can be inspected
  return timed_out ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ring_peer: one role on a framering ring, for tests"};
  Options o;
  std::string role;
  app.add_option("role", role, "produce, every or newest")->required()->check(CLI::IsMember({"produce", "every", "newest"}));
  app.add_option("--instance", o.instance)->required();
  app.add_option("--ring", o.ring);
  app.add_option("--width", o.width);
  app.add_option("--height", o.height);
  app.add_option("--slots", o.slots);
  app.add_option("--max-consumers", o.max_consumers);
  app.add_option("--format", o.format);
  app.add_option("--frames", o.frames);
  app.add_option("--rate-hz", o.rate_hz);
  app.add_option("--claim-timeout-ms", o.claim_timeout_ms);
  app.add_flag("--group-access", o.group_access);
  app.add_option("--kill-mid-write-at", o.kill_mid_write_at);
  app.add_option("--stop-at", o.stop_at)->take_all();
  app.add_option("--name", o.name);
  app.add_option("--until-sequence", o.until_sequence);
  app.add_flag("--verify", o.verify);
  app.add_option("--read-timeout-ms", o.read_timeout_ms);
  app.add_option("--stall-timeout-ms", o.stall_timeout_ms);
  app.add_option("--dead-timeout-ms", o.dead_timeout_ms);
  app.add_option("--stop-after", o.stop_after);
  app.add_option("--stop-before-release", o.stop_before_release);
  app.add_flag("--stop-before-exit", o.stop_before_exit);
  app.add_option("--wait-for-segment-ms", o.wait_for_segment_ms);
  app.add_option("--delay-us", o.delay_us);
  CLI11_PARSE(app, argc, argv);
  try {
    setup_logging("ring_peer-" + role, "warn");
    install_stop_handlers();
    if (role == "produce") return produce(o);
    return consume(o, role == "every" ? ring::ConsumerKind::Every : ring::ConsumerKind::Newest);
  } catch (const Error& e) {
    std::fprintf(stderr, "ring_peer: %s\n", e.what());
    return 2;
  }
}
