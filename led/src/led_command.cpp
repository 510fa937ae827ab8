// led_command.cpp: `framering led`, a Newest consumer of one ring that drives a circular LED
// screen. At most --rate-hz times a second it takes the newest frame (frames it does not take
// are counted as skipped by the ring, and `framering status` shows them), samples it on the
// screen's polar grid in place, releases it, and, when the read was intact, sends the colours to
// every sink: the mmap frame file, E1.31, the PNG preview. Frames read = frames sent (+ torn).
#include "framering/led/led_command.hpp"

#include <time.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <spdlog/spdlog.h>

#include "framering/common/cli_options.hpp"
#include "framering/common/clock.hpp"
#include "framering/common/error.hpp"
#include "framering/common/latency_window.hpp"
#include "framering/common/ring_reader.hpp"
#include "framering/common/stage_control.hpp"
#include "framering/common/stage_kit.hpp"
#include "framering/display/colormap.hpp"
#include "framering/display/contrast.hpp"
#include "framering/led/e131_sender.hpp"
#include "framering/led/led_geometry.hpp"
#include "framering/led/led_mmap_sink.hpp"
#include "framering/led/led_preview.hpp"
#include "framering/led/led_renderer.hpp"

namespace framering::led {
namespace {

struct LedOptions {
  CommonOptions common;
  std::string ring = "processed";
  std::string name = "led";
  ring::WaitStrategy wait = ring::kDefaultWaitStrategy;
  double rate_hz = 40.0;
  std::uint64_t frames = 0;
  double wait_for_ring_s = 10.0;
  // geometry
  std::uint32_t vanes = 360;
  std::uint32_t leds_per_vane = 288;
  double hub_fraction = 0.1;
  double vane0_angle_deg = 0.0;
  std::string direction = "cw";
  std::string led0 = "hub";
  double disc_centre_x = -1;
  double disc_centre_y = -1;
  double disc_radius_px = 0;
  // colour
  std::string contrast = "percentile";
  double percentile_low = 0.1;
  double percentile_high = 99.9;
  std::uint32_t fixed_min = 0;
  std::uint32_t fixed_max = 65535;
  bool fixed_max_given = false;
  std::string colormap = "none";
  double gamma = 2.2;
  double brightness_cap = 0.5;
  // sinks
  std::string mmap_path;
  std::vector<std::string> e131_hosts;
  bool e131_multicast = false;
  std::uint16_t universe_start = 1;
  std::string source_name = "framering led";
  std::uint16_t e131_priority = 100;
  std::string preview_path;
  double preview_every_s = 1.0;
  std::uint32_t preview_size_px = 720;
};

std::uint64_t thread_cpu_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

LedGeometry geometry_of(const LedOptions& o) {
  LedGeometry g;
  g.vanes = o.vanes;
  g.leds_per_vane = o.leds_per_vane;
  g.hub_fraction = o.hub_fraction;
  g.vane0_angle_deg = o.vane0_angle_deg;
  g.direction = o.direction == "ccw" ? VaneDirection::Ccw : VaneDirection::Cw;
  g.led0 = o.led0 == "rim" ? Led0Position::Rim : Led0Position::Hub;
  g.validate();
  return g;
}

DiscPlacement placement_of(const LedOptions& o) {
  DiscPlacement placement;
  if (o.disc_centre_x >= 0) placement.centre_x = o.disc_centre_x;
  if (o.disc_centre_y >= 0) placement.centre_y = o.disc_centre_y;
  if (o.disc_radius_px > 0) placement.radius = o.disc_radius_px;
  return placement;
}

LedColourSettings colour_of(const LedOptions& o) {
  LedColourSettings colour;
  colour.contrast.mode = display::parse_contrast_mode(o.contrast).value_or(display::ContrastMode::Percentile);
  colour.contrast.percentile_low = o.percentile_low;
  colour.contrast.percentile_high = o.percentile_high;
  colour.contrast.fixed_min = o.fixed_min;
  if (o.fixed_max_given) colour.contrast.fixed_max = o.fixed_max;
  colour.colormap = display::Colormap::from_name(o.colormap);
  colour.gamma = o.gamma;
  colour.brightness_cap = o.brightness_cap;
  return colour;
}

/// The sinks of one run, opened (and checked) before the ring is attached.
struct Sinks {
  std::optional<LedMmapSink> mmap;
  std::unique_ptr<E131Sender> e131;
  std::optional<LedPreview> preview;
  std::filesystem::path preview_path;
  std::uint64_t preview_period_ns = 0;
  std::uint64_t next_preview_ns = 0;
  cv::Mat preview_picture;
  std::uint64_t previews = 0;

  /// Sends one frame's colours to every output; the preview at most every --preview-every-s.
  void send(std::span<const std::uint8_t> rgb, std::uint64_t sequence) {
    if (mmap) mmap->write(rgb, sequence);
    if (e131) e131->send(rgb);
    const std::uint64_t now = monotonic_ns();
    if (preview && now >= next_preview_ns) {
      write_preview(rgb);
      next_preview_ns = now + preview_period_ns;
    }
  }

  /// No new frame this turn: E1.31 sends the last one again when it is due (keep-alive).
  void idle() {
    if (e131) e131->keep_alive(monotonic_ns());
  }

  /// The last frame sent always reaches the preview, so that --frames N leaves a picture of frame N;
  /// E1.31 receivers are told the stream ends (Stream_Terminated).
  void finish(std::span<const std::uint8_t> rgb, std::uint64_t sent) {
    if (preview && sent > 0) write_preview(rgb);
    if (e131) e131->terminate();
  }

  /// ", E1.31 packets P, failed F, previews N" for the outputs there are.
  [[nodiscard]] std::string counts() const {
    return fmt::format("{}{}",
                       e131 ? fmt::format(", E1.31 packets {}, failed {}, keep-alives {}", e131->counters().packets,
                                          e131->counters().send_errors, e131->counters().keep_alives)
                            : "",
                       preview ? fmt::format(", previews {}", previews) : "");
  }

 private:
  void write_preview(std::span<const std::uint8_t> rgb) {
    preview->draw(rgb, preview_picture);
    try {
      LedPreview::write_png(preview_picture, preview_path);
      ++previews;
    } catch (const Error& e) {
      spdlog::error("{}", e.what());
    }
  }
};

Sinks open_sinks(const LedOptions& o, const LedGeometry& g) {
  if (o.mmap_path.empty() && o.e131_hosts.empty() && !o.e131_multicast && o.preview_path.empty()) {
    throw ConfigError("no LED output: give at least one of --mmap PATH, --e131-host HOST[:PORT], --e131-multicast, "
                      "--preview PATH.png");
  }
  Sinks s;
  if (!o.mmap_path.empty()) s.mmap.emplace(o.mmap_path, g.vanes, g.leds_per_vane);
  if (!o.e131_hosts.empty() || o.e131_multicast) {
    s.e131 = std::make_unique<E131Sender>(o.e131_hosts, o.e131_multicast, o.universe_start, g.led_count(),
                                          o.source_name, static_cast<std::uint8_t>(o.e131_priority));
  }
  if (!o.preview_path.empty()) {
    LedPreview::check_writable(o.preview_path);
    s.preview.emplace(g, o.preview_size_px);
    s.preview_path = o.preview_path;
    s.preview_period_ns = stage::to_ns(o.preview_every_s);
  }
  return s;
}

void log_start(const LedOptions& o, const ring::RingReader& reader, const LedGeometry& g, const Sinks& sinks) {
  const auto& h = reader.segment().header();
  spdlog::info("led from ring {} (instance {}): {}x{} {}, consumer '{}'; {} vanes x {} LEDs (LED 0 at the {}, hub {}, "
               "vane 0 at {} deg {}), at most {} Hz; outputs:{}{}{}",
               o.ring, o.common.instance, h.width, h.height, to_string(static_cast<PixelFormat>(h.pixel_format)),
               reader.name(), g.vanes, g.leds_per_vane, to_string(g.led0), g.hub_fraction, g.vane0_angle_deg,
               to_string(g.direction), o.rate_hz, sinks.mmap ? " mmap " + sinks.mmap->path().string() : "",
               sinks.e131 ? "; " + sinks.e131->describe() : "",
               sinks.preview ? fmt::format("; preview {} every {} s", sinks.preview_path.string(), o.preview_every_s) : "");
}

/// The rate-capped loop: at most --rate-hz times a second, the newest frame, sampled in place,
/// to every sink.
class LedDriver {
 public:
  LedDriver(const LedOptions& o, ring::RingReader& reader, LedRenderer& renderer, Sinks& sinks)
      : o_(o),
        reader_(reader),
        renderer_(renderer),
        sinks_(sinks),
        rgb_(renderer.rgb_bytes()),
        period_ns_(stage::to_ns(1.0 / o.rate_hz)) {}

  /// Until stopped or --frames are sent; then the last preview and the summary line.
  void run() {
    using Type = stage::ParamSpec::Type;
    const LedColourSettings& c = renderer_.colour();
    stage::Control control(
        "led",
        {{.name = "gamma", .type = Type::Number, .value = c.gamma, .min = 0.1, .max = 10,
          .doc = "out = 255 * (in/255)^gamma per channel (2.2: sRGB-like)"},
         {.name = "brightness_cap", .type = Type::Number, .value = c.brightness_cap, .min = 0.001, .max = 1,
          .units = "of full power", .doc = "most of full power the screen may draw (all channels at 255 = 1)"}},
        [&](const nlohmann::json& changes) { return change_colour(changes); });
    control_ = &control;
    while (stage::keep_running(sent_.frames(), o_.frames)) {
      sent_.log_if_due([&] { return rates(); });
      if (!stage::wait_until(next_due_ns_)) continue;  // the --rate-hz cap
      send_newest();
    }
    control_ = nullptr;
    sinks_.finish(rgb_, sent_.frames());
    const std::uint64_t sent = sent_.frames();
    spdlog::info("led from ring {} ended ({}): sent {} frames in {:.1f} s, {:.0f} us CPU per frame to sample and "
                 "colour; {}{}{}",
                 o_.ring, stage::end_reason("frames done"), sent, sent_.total().seconds,
                 sent > 0 ? static_cast<double>(render_ns_) / 1e3 / static_cast<double>(sent) : 0.0,
                 stage::describe(reader_.counters()), sinks_.counts(), sent_latency());
  }

 private:
  // A live change of gamma or the cap: a new renderer with the new tables (it rebuilds its polar
  // map at the next frame, a few ms), between frames.
  std::optional<stage::Refusal> change_colour(const nlohmann::json& changes) {
    LedColourSettings colour = renderer_.colour();
    if (changes.contains("gamma")) colour.gamma = changes["gamma"].get<double>();
    if (changes.contains("brightness_cap")) colour.brightness_cap = changes["brightness_cap"].get<double>();
    try {
      renderer_ = LedRenderer(renderer_.geometry(), renderer_.placement(), colour);
    } catch (const ConfigError& e) {
      return stage::Refusal{422, changes.begin().key(), fmt::format("led: {}", e.what())};
    }
    spdlog::info("gamma now {}, brightness cap {}", colour.gamma, colour.brightness_cap);
    return std::nullopt;
  }

  // Samples the newest frame (when one comes within kPollPeriod) and sends it when it was intact.
  void send_newest() {
    auto frame = reader_.read(stage::kPollPeriod);
    // Live changes, once a turn, after the wait: one that came meanwhile reaches this frame, and
    // with no frame coming they are still answered every kPollPeriod.
    if (control_ != nullptr) control_->poll();
    if (!frame) {
      sinks_.idle();
      return;
    }
    const std::uint64_t cpu_start_ns = thread_cpu_ns();
    renderer_.render({frame->pixels, frame->width, frame->height, frame->stride_bytes, frame->pixel_format}, rgb_);
    render_ns_ += thread_cpu_ns() - cpu_start_ns;
    if (!reader_.release(*frame)) {
      spdlog::debug("frame {} was overwritten while being sampled (torn): not sent", frame->sequence);
      sinks_.idle();
      return;
    }
    sinks_.send(rgb_, frame->sequence);
    if (control_ != nullptr) control_->took_effect(frame->sequence, o_.ring);
    const std::uint64_t sent_ns = monotonic_ns();
    latency_.add(sent_ns - std::min(sent_ns, frame->publish_monotonic_ns));
    sent_.count();
    last_sequence_ = frame->sequence;
    // On the --rate-hz cadence; after a slow frame or an idle producer, from now (no catching up).
    next_due_ns_ = std::max(next_due_ns_ + period_ns_, monotonic_ns());
  }

  [[nodiscard]] std::string rates() const {
    return fmt::format("ring {}: sequence {}, {}, contrast [{}, {}], power {:.2f}{}{}", o_.ring,
                       last_sequence_ ? fmt::to_string(*last_sequence_) : "-", stage::describe(reader_.counters()),
                       renderer_.last_limits().low, renderer_.last_limits().high, renderer_.last_power(),
                       sinks_.counts(), sent_latency());
  }

  // ", publish -> sent p50 A ms, p99 B ms, max C ms (N frames)": how old a frame is when its
  // colours have gone to every output (E1.31 packets handed to the kernel, the mmap written),
  // over the last LatencyWindow::kFrames frames sent.
  [[nodiscard]] std::string sent_latency() const {
    LatencyWindow window = latency_;
    const auto f = window.figures();
    if (f.frames == 0) return {};
    return fmt::format(", publish -> sent p50 {:.2f} ms, p99 {:.2f} ms, max {:.2f} ms ({} frames)",
                       static_cast<double>(f.p50_ns) / 1e6, static_cast<double>(f.p99_ns) / 1e6,
                       static_cast<double>(f.max_ns) / 1e6, f.frames);
  }

  const LedOptions& o_;
  ring::RingReader& reader_;
  LedRenderer& renderer_;
  Sinks& sinks_;
  std::vector<std::uint8_t> rgb_;
  std::uint64_t period_ns_;
  std::uint64_t next_due_ns_ = monotonic_ns();
  stage::RateReport sent_{"sent", stage::kReportPeriod};
  std::uint64_t render_ns_ = 0;  ///< thread CPU time spent sampling and colouring
  stage::Control* control_ = nullptr;  ///< run()'s, while it runs: live changes are acknowledged per frame sent
  LatencyWindow latency_;        ///< publish -> sent, per frame sent
  std::optional<std::uint64_t> last_sequence_;
};

int run_led(const LedOptions& o) {
  stage::begin("led", o.common, {o.ring});
  const LedGeometry g = geometry_of(o);
  LedRenderer renderer(g, placement_of(o), colour_of(o));
  // Every output is checked before waiting for the ring: a bad path or host fails at once.
  Sinks sinks = open_sinks(o, g);
  auto reader = stage::attach_input(o.common.instance, o.ring, {.name = o.name, .kind = ring::ConsumerKind::Newest, .wait = o.wait},
                                    {.timeout = stage::from_seconds(o.wait_for_ring_s), .option = "--wait-for-ring-s"});
  if (!reader) return 0;
  const PixelFormat format = reader->segment().geometry().frame.pixel_format;
  stage::require_pixel_format(reader->segment(), "led", !is_bayer(format),
                              "grey frames (Mono8..Mono16, colour-mapped) and RGB8/BGR8 (as they are), not a raw "
                              "Bayer mosaic: its neighbouring pixels are different colours");
  log_start(o, *reader, g, sinks);
  LedDriver(o, *reader, renderer, sinks).run();
  return 0;
}

}  // namespace

void add_led_subcommand(CLI::App& app, StageCommand& command) {
  auto o = std::make_shared<LedOptions>();
  CLI::App* cmd = app.add_subcommand("led", "Drive a circular LED screen (skyscreen) from the newest frame of a ring");
  cmd->footer(
      "A newest consumer: at most --rate-hz times a second it takes the newest frame (the others count as\n"
      "skipped in `framering status`), samples it on the screen's polar grid (bilinear, through a table\n"
      "computed once), stretches it to 8 bits as `framering display` does, applies the colour map, gamma and\n"
      "the brightness cap, and sends it to every output given. An RGB8/BGR8 ring (a pattern drawn in colour) is\n"
      "sampled per channel and sent as it is: no stretch or colour map, gamma per channel, then the cap.\n"
      "Outputs:\n"
      "  --mmap PATH      skyscreen's frame file: vanes*leds*3 bytes, no header, byte vane*leds*3 + led*3 + {R,G,B};\n"
      "                   PATH.seq holds a seqlock counter (odd while writing) so readers never take half a frame\n"
      "  --e131-host H    E1.31 (sACN) unicast; --e131-multicast to 239.255.<hi>.<lo>:5568. 170 RGB LEDs per\n"
      "                   universe from --universe-start, LED index = vane*leds + led\n"
      "  --preview P.png  a picture of the disc as seen from below, every --preview-every-s\n"
      "Geometry: angles in degrees from UP (12 o'clock of the image), vanes numbered clockwise as seen from\n"
      "below (--direction ccw for the other way); the disc is inscribed in the image. LED 0 of each vane is\n"
      "at the HUB by default (skyscreen's docstring; its renderers put it at the rim: --led0 rim).\n"
      "The brightness cap limits the total power: a frame above the cap is scaled down to it.\n"
      "See docs/led-output.md. Exit codes: 0 ok, 2 could not start, 100+ command-line errors.\n"
      "Examples:\n"
      "  framering led --ring processed --mmap /dev/shm/skyscreen --e131-host 10.0.0.20 --rate-hz 40\n"
      "  framering led --ring processed --e131-multicast --colormap inferno --gamma 2.2 --brightness-cap 0.4\n"
      "  framering led --ring raw --preview led.png --led0 rim --vane0-angle-deg 90 --direction ccw");
  add_common_options(*cmd, o->common);
  cmd->add_option("--ring", o->ring, "Ring to read")->capture_default_str();
  cmd->add_option("--name", o->name, "Consumer name in the ring (1-31 of [A-Za-z0-9_-]; framering run: the stage's name)")
      ->envname(kStageEnvName)
      ->capture_default_str();
  add_wait_option(*cmd, o->wait);
  cmd->add_option("--rate-hz", o->rate_hz, "Most LED frames per second (LED controllers refresh at 30-60 Hz)")
      ->check(CLI::Range(0.1, 1000.0))
      ->capture_default_str();
  cmd->add_option("--frames", o->frames, "Stop after sending this many frames; 0 = until stopped")->capture_default_str();
  cmd->add_option("--wait-for-ring-s", o->wait_for_ring_s, "Seconds to wait for the ring to be created")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  // Geometry: ranges are checked by LedGeometry::validate, so that the message names the rule.
  cmd->add_option("--vanes", o->vanes, "Radial vanes (spokes) of the screen")->capture_default_str()->group("Geometry");
  cmd->add_option("--leds-per-vane", o->leds_per_vane, "LEDs on each vane")->capture_default_str()->group("Geometry");
  cmd->add_option("--hub-fraction", o->hub_fraction,
                  "Radius of the hub (no LEDs) as a fraction of the outer radius, 0 <= f < 1")
      ->capture_default_str()
      ->group("Geometry");
  cmd->add_option("--vane0-angle-deg", o->vane0_angle_deg, "Angle of vane 0 in degrees from up (12 o'clock)")
      ->capture_default_str()
      ->group("Geometry");
  cmd->add_option("--direction", o->direction, "Vane numbers increase cw or ccw, as seen from below the screen")
      ->check(CLI::IsMember({"cw", "ccw"}))
      ->capture_default_str()
      ->group("Geometry");
  cmd->add_option("--led0", o->led0, "Where LED 0 of each vane is: hub (default) or rim")
      ->check(CLI::IsMember({"hub", "rim"}))
      ->capture_default_str()
      ->group("Geometry");
  cmd->add_option("--disc-centre-x", o->disc_centre_x, "Disc centre, image x in pixels (default: the image centre)")
      ->group("Geometry");
  cmd->add_option("--disc-centre-y", o->disc_centre_y, "Disc centre, image y in pixels (default: the image centre)")
      ->group("Geometry");
  cmd->add_option("--disc-radius-px", o->disc_radius_px, "Disc radius in image pixels (default: min(width, height)/2)")
      ->group("Geometry");
  // Colour: the same contrast options as `framering display`.
  cmd->add_option("--contrast", o->contrast, "Contrast stretch to 8 bits: minmax, percentile or fixed")
      ->check(CLI::IsMember({"minmax", "percentile", "fixed"}))
      ->capture_default_str()
      ->group("Colour");
  cmd->add_option("--percentile-low", o->percentile_low, "percentile: the percentile (in %) that maps to black")
      ->check(CLI::Range(0.0, 100.0))
      ->capture_default_str()
      ->group("Colour");
  cmd->add_option("--percentile-high", o->percentile_high, "percentile: the percentile (in %) that maps to white")
      ->check(CLI::Range(0.0, 100.0))
      ->capture_default_str()
      ->group("Colour");
  cmd->add_option("--fixed-min", o->fixed_min, "fixed: the count that maps to black")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str()
      ->group("Colour");
  cmd->add_option("--fixed-max", o->fixed_max,
                  "fixed: the count that maps to white (default: the pixel format's full scale, 65535 for Mono16)")
      ->check(CLI::Range(0, 65535))
      ->each([o](const std::string&) { o->fixed_max_given = true; })
      ->group("Colour");
  cmd->add_option("--colormap", o->colormap, "Colour map (none = grey, R = G = B): " + display::Colormap::names())
      ->check(CLI::Validator(
          [](std::string& name) -> std::string {
            try {
              (void)display::Colormap::from_name(name);
              return {};
            } catch (const ConfigError& e) {
              return e.what();
            }
          },
          "NAME", "colormap"))
      ->capture_default_str()
      ->group("Colour");
  cmd->add_option("--gamma", o->gamma, "Gamma: out = 255 * (in/255)^gamma, 0.1..10 (1 = none)")
      ->capture_default_str()
      ->group("Colour");
  cmd->add_option("--brightness-cap", o->brightness_cap,
                  "Most of full power (all LEDs white) the screen may draw, 0 < cap <= 1; brighter frames are scaled "
                  "down to it")
      ->capture_default_str()
      ->group("Colour");
  // Outputs.
  cmd->add_option("--mmap", o->mmap_path, "skyscreen frame file to write (and PATH.seq, its sequence counter)")
      ->group("Outputs");
  cmd->add_option("--e131-host", o->e131_hosts, "E1.31 receiver host[:port] (port 5568 by default); repeatable")
      ->group("Outputs");
  cmd->add_flag("--e131-multicast", o->e131_multicast, "E1.31 to each universe's multicast group 239.255.<hi>.<lo>:5568")
      ->group("Outputs");
  cmd->add_option("--universe-start", o->universe_start, "E1.31 universe of LEDs 0..169 (then consecutive)")
      ->check(CLI::Range(1, 63999))
      ->capture_default_str()
      ->group("Outputs");
  cmd->add_option("--source-name", o->source_name, "E1.31 source name (up to 63 bytes)")
      ->capture_default_str()
      ->group("Outputs");
  cmd->add_option("--e131-priority", o->e131_priority, "E1.31 priority 0..200")
      ->check(CLI::Range(0, 200))
      ->capture_default_str()
      ->group("Outputs");
  cmd->add_option("--preview", o->preview_path, "PNG picture of the disc as seen from below (replaced atomically)")
      ->group("Outputs");
  cmd->add_option("--preview-every-s", o->preview_every_s, "Seconds between preview pictures")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str()
      ->group("Outputs");
  cmd->add_option("--preview-size-px", o->preview_size_px, "Side of the preview picture in pixels, 16..8192")
      ->capture_default_str()
      ->group("Outputs");
  cmd->callback([o, &command] {
    command.action = [o] { return run_led(*o); };
    command.rings = [o] { return std::vector<RingUse>{{.ring = o->ring, .role = RingRole::ConsumesNewest}}; };
  });
}

}  // namespace framering::led
