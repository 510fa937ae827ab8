// led_bench.cpp: `framering bench led`: the cost of one LED frame (skyscreen: 360 x 288 LEDs) from
// a processed 1920x1080 Mono16 frame, and of each output, against baselines measured in the same
// run on the same frame: cv::remap (INTER_LINEAR) on the same polar sample positions, and a
// memcpy of the source frame. No rings or child processes: the stage's per-frame work alone.
#include "framering/bench/led_bench.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "framering/common/cli_options.hpp"
#include "framering/common/clock.hpp"
#include "framering/common/error.hpp"
#include "framering/common/logging.hpp"
#include "framering/display/colormap.hpp"
#include "framering/display/contrast.hpp"
#include "framering/led/e131_sender.hpp"
#include "framering/led/led_geometry.hpp"
#include "framering/led/led_mmap_sink.hpp"
#include "framering/led/led_renderer.hpp"

namespace framering::bench {
namespace {

struct LedBenchOptions {
  CommonOptions common;
  std::uint32_t width = 1920;
  std::uint32_t height = 1080;
  std::uint32_t vanes = 360;
  std::uint32_t leds_per_vane = 288;
  double seconds = 2.0;
  double rate_hz = 40.0;
  std::uint32_t frames = 16;
  bool json = false;
};

std::uint64_t thread_cpu_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

/// Runs `step` repeatedly for about `seconds`; per call: wall and CPU microseconds, calls per second.
struct Timing {
  std::uint64_t calls = 0;
  double wall_us = 0;
  double cpu_us = 0;
  double per_s = 0;
  [[nodiscard]] nlohmann::json to_json() const {
    return {{"calls", calls}, {"wall_us_per_frame", wall_us}, {"cpu_us_per_frame", cpu_us}, {"frames_per_s", per_s}};
  }
};

Timing measure(double seconds, const std::function<void()>& step) {
  step();  // warm caches and lazily allocated buffers
  const std::uint64_t wall0 = monotonic_ns();
  const std::uint64_t cpu0 = thread_cpu_ns();
  const auto budget = static_cast<std::uint64_t>(seconds * 1e9);
  Timing t;
  while (monotonic_ns() - wall0 < budget) {
    step();
    ++t.calls;
  }
  const double wall = static_cast<double>(monotonic_ns() - wall0);
  const double cpu = static_cast<double>(thread_cpu_ns() - cpu0);
  t.wall_us = wall / 1e3 / static_cast<double>(t.calls);
  t.cpu_us = cpu / 1e3 / static_cast<double>(t.calls);
  t.per_s = static_cast<double>(t.calls) / (wall / 1e9);
  return t;
}

int run_led_bench(const LedBenchOptions& o) {
  setup_logging("bench", o.common.log_level);
  // A processed-looking frame: smooth structure plus noise over most of the 16-bit range.
  cv::Mat frame(static_cast<int>(o.height), static_cast<int>(o.width), CV_16UC1);
  std::mt19937 rng(42);
  std::normal_distribution<double> noise(0.0, 800.0);
  for (int y = 0; y < frame.rows; ++y) {
    for (int x = 0; x < frame.cols; ++x) {
      const double v = 30000.0 + 15000.0 * std::sin(x / 37.0) * std::cos(y / 23.0) + noise(rng);
      frame.at<std::uint16_t>(y, x) = static_cast<std::uint16_t>(std::clamp(v, 0.0, 65535.0));
    }
  }
  // Copies of it, more than the last-level cache holds, taken in turn: each render finds its frame
  // cold in the cache, as the stage does with a frame another core just wrote into the ring.
  std::vector<cv::Mat> frames(std::max<std::uint32_t>(1, o.frames));
  for (cv::Mat& f : frames) frame.copyTo(f);
  std::vector<display::MonoImageView> views;
  for (const cv::Mat& f : frames) {
    views.push_back({std::as_bytes(std::span(f.ptr<std::uint16_t>(0), f.total())), o.width, o.height, f.step[0],
                     PixelFormat::Mono16});
  }
  std::size_t turn = 0;
  const auto next = [&] { return turn = (turn + 1) % frames.size(); };
  led::LedGeometry g;
  g.vanes = o.vanes;
  g.leds_per_vane = o.leds_per_vane;
  g.validate();

  // The look-up table, built once.
  const std::uint64_t build0 = monotonic_ns();
  const led::PolarMap map(g, o.width, o.height, frame.step[0] / 2);
  const double table_ms = static_cast<double>(monotonic_ns() - build0) / 1e6;

  led::LedColourSettings grey;  // percentile contrast, gamma 2.2, cap 0.5: the defaults
  led::LedRenderer renderer(g, {}, grey);
  led::LedColourSettings coloured = grey;
  coloured.colormap = display::Colormap::from_name("inferno");
  led::LedRenderer colour_renderer(g, {}, coloured);
  std::vector<std::uint8_t> rgb(renderer.rgb_bytes());
  const Timing render = measure(o.seconds, [&] { renderer.render(views[next()], rgb); });
  const Timing render_colour = measure(o.seconds, [&] { colour_renderer.render(views[next()], rgb); });
  std::vector<std::uint16_t> samples(g.led_count());
  const Timing sample_only = measure(o.seconds, [&] {
    const cv::Mat& f = frames[next()];
    map.sample<std::uint16_t>({f.ptr<std::uint16_t>(0), f.total()}, samples);
  });

  // Baseline: cv::remap with bilinear interpolation at the same positions (vanes x leds map).
  cv::Mat map_xy(static_cast<int>(g.vanes), static_cast<int>(g.leds_per_vane), CV_32FC2);
  for (std::uint32_t v = 0; v < g.vanes; ++v) {
    for (std::uint32_t l = 0; l < g.leds_per_vane; ++l) {
      const auto p = led::PolarMap::position(g, map.centre_x(), map.centre_y(), map.radius(), v, l);
      map_xy.at<cv::Vec2f>(static_cast<int>(v), static_cast<int>(l)) =
          cv::Vec2f(static_cast<float>(p.x), static_cast<float>(p.y));
    }
  }
  cv::Mat remapped;
  const Timing remap = measure(o.seconds, [&] {
    cv::remap(frames[next()], remapped, map_xy, cv::noArray(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  });
  std::vector<std::uint8_t> copy(frame.total() * 2);
  const Timing memcpy_frame = measure(o.seconds, [&] {
    std::memcpy(copy.data(), frames[next()].data, copy.size());
    asm volatile("" : : "r"(copy.data()) : "memory");  // keep the copy
  });

  // Outputs: the mmap file (in /dev/shm when there is one) and E1.31 to a loopback socket of ours.
  const std::filesystem::path mmap_path =
      (std::filesystem::exists("/dev/shm") ? std::filesystem::path("/dev/shm") : std::filesystem::temp_directory_path()) /
      fmt::format("framering-bench-led-{}", ::getpid());
  Timing mmap_write;
  {
    led::LedMmapSink sink(mmap_path, g.vanes, g.leds_per_vane);
    std::uint64_t s = 0;
    mmap_write = measure(o.seconds, [&] { sink.write(rgb, s++); });
  }
  std::filesystem::remove(mmap_path);
  std::filesystem::remove(led::LedMmapSink::sidecar_path(mmap_path));
  const int rx = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (rx < 0 || ::bind(rx, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw Error("bench led: cannot bind a UDP socket");
  socklen_t len = sizeof a;
  ::getsockname(rx, reinterpret_cast<sockaddr*>(&a), &len);
  Timing e131;
  std::uint32_t universes = 0;
  {
    led::E131Sender sender({fmt::format("127.0.0.1:{}", ntohs(a.sin_port))}, false, 1, g.led_count(),
                               "framering bench");
    universes = sender.universe_count();
    e131 = measure(o.seconds, [&] { sender.send(rgb); });  // the receiver never reads: the kernel drops
  }
  ::close(rx);

  const double period_us = 1e6 / o.rate_hz;
  const nlohmann::json result = {
      {"bench", "led"},
      {"source", {{"width", o.width}, {"height", o.height}, {"pixel_format", "Mono16"}, {"frames_in_turn", frames.size()}}},
      {"leds", {{"vanes", g.vanes}, {"leds_per_vane", g.leds_per_vane}, {"count", g.led_count()}}},
      {"table_build_ms", table_ms},
      {"render_grey", render.to_json()},
      {"render_inferno", render_colour.to_json()},
      {"sample_only", sample_only.to_json()},
      {"baseline_cv_remap_linear", remap.to_json()},
      {"baseline_memcpy_frame", memcpy_frame.to_json()},
      {"mmap_write", mmap_write.to_json()},
      {"e131_send", e131.to_json()},
      {"e131_universes_per_frame", universes},
      {"rate_hz", o.rate_hz},
      {"render_fraction_of_period", render.cpu_us / period_us},
      {"sample_ratio_to_cv_remap", sample_only.cpu_us / remap.cpu_us},
      {"render_ratio_to_memcpy", render.cpu_us / memcpy_frame.cpu_us},
  };
  if (o.json) {
    fmt::print("{}\n", result.dump(2));
    return 0;
  }
  fmt::print("LED frame: {} vanes x {} LEDs = {} LEDs from a {}x{} Mono16 frame (table built once in {:.1f} ms)\n",
             g.vanes, g.leds_per_vane, g.led_count(), o.width, o.height, table_ms);
  const auto line = [](const char* what, const Timing& t) {
    fmt::print("  {:<44} {:9.1f} us CPU/frame  {:9.0f} frames/s\n", what, t.cpu_us, t.per_s);
  };
  line("render (sample+contrast+gamma+cap), grey", render);
  line("render with colour map inferno", render_colour);
  line("  of which the bilinear samples alone", sample_only);
  line("baseline: cv::remap INTER_LINEAR, same points", remap);
  line("baseline: memcpy of the source frame", memcpy_frame);
  line("mmap sink write (311 KB + seqlock)", mmap_write);
  line(fmt::format("E1.31 send ({} universes, loopback)", universes).c_str(), e131);
  fmt::print("  render = {:.1f}% of a {:.0f} Hz frame period; samples / cv::remap = {:.2f}; render / memcpy = {:.2f}\n",
             100.0 * render.cpu_us / period_us, o.rate_hz, sample_only.cpu_us / remap.cpu_us,
             render.cpu_us / memcpy_frame.cpu_us);
  return 0;
}

}  // namespace

void add_led_bench(CLI::App& bench, std::function<int()>& action) {
  auto o = std::make_shared<LedBenchOptions>();
  o->common.log_level = "warn";
  CLI::App* cmd =
      bench.add_subcommand("led", "LED output cost per frame (polar sampling, colour, mmap, E1.31) against cv::remap");
  cmd->footer(
      "Times, on one synthetic processed frame, each step of `framering led` for --seconds: the whole render\n"
      "(bilinear samples through the table, percentile contrast, gamma, brightness cap; grey and with a colour\n"
      "map), the samples alone, the mmap write and the E1.31 send of every universe to a loopback socket.\n"
      "Baselines in the same run: cv::remap INTER_LINEAR at the same points, and memcpy of the source frame.\n"
      "Example: framering bench led --json");
  add_common_options(*cmd, o->common);
  cmd->add_option("--width", o->width, "Source frame width in pixels")->check(CLI::Range(8, 16384))->capture_default_str();
  cmd->add_option("--height", o->height, "Source frame height in pixels")
      ->check(CLI::Range(8, 16384))
      ->capture_default_str();
  cmd->add_option("--vanes", o->vanes, "Vanes")->check(CLI::Range(1, 65535))->capture_default_str();
  cmd->add_option("--leds-per-vane", o->leds_per_vane, "LEDs per vane")->check(CLI::Range(1, 65535))->capture_default_str();
  cmd->add_option("--seconds", o->seconds, "Length of each measured step, in seconds")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  cmd->add_option("--rate-hz", o->rate_hz, "LED frame rate the render is compared with")
      ->check(CLI::Range(0.1, 1000.0))
      ->capture_default_str();
  cmd->add_option("--frames", o->frames,
                  "Source frames taken in turn (16 x 4 MB: more than the cache, as frames fresh from a ring)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "Print one JSON object");
  cmd->callback([o, &action] { action = [o] { return run_led_bench(*o); }; });
}

}  // namespace framering::bench
