// bridge_bench.cpp: `framering bench bridge`: the bridge over loopback TCP against a bare
// ZeroMQ transfer of the same bytes, in the same run.
//
// Baseline: a DEALER process sends --seconds of frame-sized messages (each straight from a
// prepared page-aligned frame, zmq_msg_init_data, as the bridge's sender sends its slot) to a
// ROUTER process that copies each into a page-aligned buffer (as the receiver copies into its
// slot) and returns a credit per message, with the bridge's window in flight. The copies the
// bridge cannot avoid, and no more: the ratio is what its protocol and rings cost.
// Bridge: a producer process publishes frames into a near ring without writing their pixels
// (the ring's own cost is `bench ring`'s subject), the real `framering bridge send` and
// `framering bridge receive` carry them, and this process reads every frame of the far ring.
#include "framering/bench/bridge_bench.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "bench_support.hpp"
#include "framering/common/cli_options.hpp"
#include "framering/common/clock.hpp"
#include "framering/common/error.hpp"
#include "framering/common/logging.hpp"
#include "framering/common/ring_reader.hpp"
#include "framering/common/ring_writer.hpp"
#include "framering/common/segment.hpp"
#include "framering/common/stop_signal.hpp"

namespace framering::bench {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

struct BridgeBenchOptions {
  CommonOptions common;
  std::uint32_t width = 1920;
  std::uint32_t height = 1080;
  double seconds = 5.0;
  std::uint32_t window = 8;
  std::uint16_t port = 0;  ///< 0: 20000 + pid % 20000
  bool json = false;
  std::string role;  ///< internal: "producer", "baseline-sender", "baseline-receiver"
  std::string result_file;
};

constexpr const char* kRing = "bench";

std::uint64_t frame_bytes(const BridgeBenchOptions& o) { return std::uint64_t{o.width} * o.height * 2; }

// ---- the bare ZeroMQ baseline ----------------------------------------------------------------

int run_baseline_sender(const BridgeBenchOptions& o, const std::string& endpoint) {
  const AlignedBuffer frame = aligned_buffer(frame_bytes(o));
  zmq::context_t context;
  zmq::socket_t socket(context, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 0);
  socket.connect(endpoint);
  std::uint64_t sent = 0;
  std::uint64_t acked = 0;
  const std::uint64_t start = monotonic_ns();
  const std::uint64_t end = start + static_cast<std::uint64_t>(o.seconds * 1e9);
  while (monotonic_ns() < end && !stop_requested()) {
    while (sent - acked >= o.window) {
      zmq::message_t ack;
      if (socket.recv(ack)) ++acked;
    }
    // No copy: the frame stays valid for the whole run; ZeroMQ's free function has nothing to do.
    zmq::message_t message(frame.get(), frame_bytes(o), [](void*, void*) {}, nullptr);
    (void)socket.send(message, zmq::send_flags::none);
    ++sent;
  }
  while (acked < sent) {
    zmq::message_t ack;
    if (socket.recv(ack)) ++acked;
  }
  const double seconds = static_cast<double>(monotonic_ns() - start) / 1e9;
  (void)socket.send(zmq::message_t(), zmq::send_flags::none);  // the end: an empty message
  write_result(o.result_file, {{"frames", sent}, {"seconds", seconds}, {"frames_per_s", static_cast<double>(sent) / seconds}});
  return 0;
}

int run_baseline_receiver(const BridgeBenchOptions& o, const std::string& endpoint) {
  const AlignedBuffer slot = aligned_buffer(frame_bytes(o));
  zmq::context_t context;
  zmq::socket_t socket(context, zmq::socket_type::router);
  socket.set(zmq::sockopt::linger, 0);
  socket.bind(endpoint);
  write_result(o.result_file, {{"bound", true}});
  for (;;) {
    std::vector<zmq::message_t> parts;
    if (!zmq::recv_multipart(socket, std::back_inserter(parts))) continue;
    if (parts.size() < 2 || parts[1].size() == 0) break;
    std::memcpy(slot.get(), parts[1].data(), std::min<std::size_t>(parts[1].size(), frame_bytes(o)));
    std::array<zmq::message_t, 2> ack{std::move(parts[0]), zmq::message_t(std::string_view{"k"})};
    (void)zmq::send_multipart(socket, ack);
  }
  return 0;
}

// ---- the bridge ------------------------------------------------------------------------------

// Publishes frames into the near ring, sequence-stamped, without writing their pixels.
int run_producer(const BridgeBenchOptions& o) {
  auto writer = ring::RingWriter::create_or_attach(o.common.instance, kRing, mono16_geometry(o.width, o.height, 16));
  (void)writer.wait_for_consumers(1, 30s, &stop_requested);
  std::uint64_t frames = 0;
  while (!stop_requested()) {
    auto slot = writer.claim(100ms);
    if (!slot) continue;
    stamp(slot->pixels.data(), slot->pixels.size(), slot->sequence);
    writer.publish({.camera_frame_id = slot->sequence});
    ++frames;
  }
  write_result(o.result_file, {{"frames", frames}});
  return 0;
}

struct Children {
  std::vector<pid_t> pids;
  ~Children() {
    for (pid_t pid : pids) {
      ::kill(pid, SIGKILL);
      (void)wait_child(pid);
    }
  }
  /// Stops them in the reverse of their start: the producer, then the sender (which drains
  /// into a receiver still there), then the receiver.
  void stop_all() {
    for (auto pid = pids.rbegin(); pid != pids.rend(); ++pid) {
      ::kill(*pid, SIGTERM);
      (void)wait_child(*pid);
    }
    pids.clear();
  }
};

int run_parent(const BridgeBenchOptions& o) {
  setup_logging("bench", o.common.log_level);
  install_stop_handlers();
  const std::uint16_t port = o.port != 0 ? o.port : static_cast<std::uint16_t>(20000 + ::getpid() % 20000);
  const std::string endpoint = fmt::format("tcp://127.0.0.1:{}", port);
  const std::string near = o.common.instance + "-near";
  const std::string far = o.common.instance + "-far";
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / fmt::format("framering-bench-bridge-{}", ::getpid());
  std::filesystem::create_directories(dir);
  const std::string size = std::to_string(o.width);
  const std::string height = std::to_string(o.height);
  const std::string seconds = fmt::format("{}", o.seconds);

  // Baseline first.
  json baseline;
  {
    Children children;
    const auto bound = dir / "receiver.json";
    children.pids.push_back(spawn_self({"framering", "bench", "bridge", "--role", "baseline-receiver", "--result",
                                        bound.string(), "--width", size, "--height", height, "--port",
                                        std::to_string(port)},
                                       "baseline receiver"));
    const std::uint64_t deadline = monotonic_ns() + 10'000'000'000ULL;
    while (!std::filesystem::exists(bound) && monotonic_ns() < deadline) ::usleep(10'000);  // start-up only
    const pid_t sender = spawn_self({"framering", "bench", "bridge", "--role", "baseline-sender", "--result",
                                     (dir / "sender.json").string(), "--width", size, "--height", height, "--seconds",
                                     seconds, "--window", std::to_string(o.window), "--port", std::to_string(port)},
                                    "baseline sender");
    (void)wait_child(sender);
    (void)wait_child(children.pids.front());
    children.pids.clear();
    baseline = read_result((dir / "sender.json").string(), "baseline sender");
  }

  // Then the bridge.
  std::uint64_t frames = 0;
  std::uint64_t lost = 0;
  double elapsed = 0;
  {
    Children children;
    children.pids.push_back(spawn_self({"framering", "bridge", "receive", "--instance", far, "--ring", kRing, "--listen",
                                        endpoint, "--window", std::to_string(o.window), "--wait-for-consumers", "1",
                                        "--log-level", "warn"},
                                       "bridge receive"));
    children.pids.push_back(spawn_self({"framering", "bridge", "send", "--instance", near, "--ring", kRing, "--to",
                                        endpoint, "--log-level", "warn"},
                                       "bridge send"));
    children.pids.push_back(spawn_self({"framering", "bench", "bridge", "--role", "producer", "--instance", near,
                                        "--result", (dir / "producer.json").string(), "--width", size, "--height",
                                        height},
                                       "producer"));
    ring::ReaderOptions options;
    options.name = "bench";
    options.kind = ring::ConsumerKind::Every;
    options.wait_for_segment = 30000ms;
    auto reader = ring::RingReader::attach(far, kRing, options);
    // Warm up: the first frames carry the connection's start.
    for (int i = 0; i < 10 && !stop_requested(); ++i) {
      if (auto f = reader.read(30s)) (void)reader.release(*f);
    }
    const std::uint64_t start = monotonic_ns();
    const std::uint64_t end = start + static_cast<std::uint64_t>(o.seconds * 1e9);
    while (monotonic_ns() < end && !stop_requested()) {
      auto frame = reader.read(1s);
      if (!frame) continue;
      if (frame->gap) lost += frame->gap->count();
      (void)reader.release(*frame);
      ++frames;
    }
    elapsed = static_cast<double>(monotonic_ns() - start) / 1e9;
    children.stop_all();
  }
  for (const auto& instance : {near, far}) {
    for (const auto& ring : ring::Segment::list_rings(instance)) ring::Segment::remove(instance, ring);
  }
  std::filesystem::remove_all(dir);

  const double fps = static_cast<double>(frames) / elapsed;
  const double bare_fps = baseline["frames_per_s"].get<double>();
  const json result = {{"geometry", fmt::format("{}x{} Mono16", o.width, o.height)},
                       {"endpoint", endpoint},
                       {"window", o.window},
                       {"frames", frames},
                       {"seconds", elapsed},
                       {"frames_per_s", fps},
                       {"bytes_per_s", fps * static_cast<double>(frame_bytes(o))},
                       {"lost", lost},
                       {"bare_zmq_frames_per_s", bare_fps},
                       {"ratio", bare_fps > 0 ? fps / bare_fps : 0.0}};
  if (o.json) {
    fmt::print("{}\n", result.dump(2));
  } else {
    fmt::print("bench bridge: {} over {}, window {}\n", result["geometry"].get<std::string>(), endpoint, o.window);
    fmt::print("  bridge     {:8.1f} frames/s  {:8.1f} MB/s  lost {}\n", fps, fps * static_cast<double>(frame_bytes(o)) / 1e6, lost);
    fmt::print("  bare ZeroMQ {:7.1f} frames/s   ratio {:.2f}\n", bare_fps, result["ratio"].get<double>());
  }
  return lost == 0 ? 0 : 3;
}

}  // namespace

void add_bridge_bench(CLI::App& bench, std::function<int()>& action) {
  auto o = std::make_shared<BridgeBenchOptions>();
  CLI::App* cmd = bench.add_subcommand("bridge", "The bridge over loopback TCP against a bare ZeroMQ transfer of the same bytes");
  cmd->footer(
      "First a bare ZeroMQ DEALER -> ROUTER transfer of frame-sized messages for --seconds (sent without a\n"
      "copy, copied once on receipt, as the bridge does; a credit per message, --window in flight), then\n"
      "the real `framering bridge send` and\n"
      "`framering bridge receive` between two rings for --seconds. Reports frames_per_s, bytes_per_s, lost\n"
      "(must be 0) and ratio = bridge / bare. Exit code 3 when frames were lost.\n"
      "Example: framering bench bridge --seconds 5 --json");
  add_common_options(*cmd, o->common);
  cmd->add_option("--width", o->width, "Frame width in pixels")->check(CLI::Range(8, 65536))->capture_default_str();
  cmd->add_option("--height", o->height, "Frame height in pixels")->check(CLI::Range(8, 65536))->capture_default_str();
  cmd->add_option("--seconds", o->seconds, "Length of each measurement, in seconds")
      ->check(CLI::Range(0.2, 3600.0))
      ->capture_default_str();
  cmd->add_option("--window", o->window, "Frames in flight (the receiver's credit)")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd->add_option("--port", o->port, "Loopback TCP port [default: 20000 + pid % 20000]");
  cmd->add_flag("--json", o->json, "Print one JSON object");
  cmd->add_option("--role", o->role, "internal: the role of a child process")
      ->check(CLI::IsMember({"producer", "baseline-sender", "baseline-receiver"}))
      ->group("");
  cmd->add_option("--result", o->result_file, "internal: where a child writes its result")->group("");
  cmd->callback([o, &action] {
    action = [o] {
      if (o->role.empty()) return run_parent(*o);
      setup_logging("bench-" + o->role, o->common.log_level);
      install_stop_handlers();
      const std::string endpoint = fmt::format("tcp://127.0.0.1:{}", o->port);
      if (o->role == "producer") return run_producer(*o);
      if (o->role == "baseline-sender") return run_baseline_sender(*o, endpoint);
      return run_baseline_receiver(*o, endpoint);
    };
  });
}

}  // namespace framering::bench
