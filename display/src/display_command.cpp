// display_command.cpp: `framering display`, a Newest consumer of one ring. With a display it
// shows the newest frame in an OpenCV window (contrast stretch, colour map, overlay of rates and
// counters; keys q/Esc, s, p, c); without one it writes PNG snapshots. It never slows the
// producer: it reads with a timeout (Ready-based backpressure, in RingReader), copies the frame
// out of its slot, releases it, and drops the copy when release() says the producer lapped it.
#include "framering/display/display_command.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <opencv2/highgui.hpp>
#include <opencv2/imgproc.hpp>
#include <spdlog/spdlog.h>

#include "framering/common/clock.hpp"
#include "framering/common/cli_options.hpp"
#include "framering/common/error.hpp"
#include "framering/common/rate_window.hpp"
#include "framering/common/ring_reader.hpp"
#include "framering/common/stage_control.hpp"
#include "framering/common/stage_kit.hpp"
#include "framering/common/stop_signal.hpp"
#include "framering/display/colormap.hpp"
#include "framering/display/contrast.hpp"
#include "framering/display/frame_renderer.hpp"
#include "framering/display/snapshot_writer.hpp"

namespace framering::display {
namespace {

using namespace std::chrono_literals;

struct DisplayOptions {
  CommonOptions common;
  std::string ring = "processed";
  std::string name = "display";
  ring::WaitStrategy wait = ring::kDefaultWaitStrategy;
  std::string contrast = "percentile";
  double percentile_low = 0.1;
  double percentile_high = 99.9;
  std::uint32_t fixed_min = 0;
  std::uint32_t fixed_max = 65535;
  bool fixed_max_given = false;
  std::string colormap = "none";
  bool headless = false;
  bool no_overlay = false;
  double max_fps = 60.0;
  std::string snapshot_dir = ".";
  double snapshot_every_s = 5.0;
  bool snapshot = false;
  bool snapshot_raw = false;
  double wait_for_ring_s = 10.0;
  std::uint64_t frames = 0;
};

/// A frame copied out of the ring: raw pixels (rows packed) and where it came from.
struct TakenFrame {
  std::uint64_t sequence = 0;
  PixelFormat pixel_format = PixelFormat::Mono16;
};

MonoImageView view_of(const cv::Mat& raw, PixelFormat format) {
  return {std::span<const std::byte>(reinterpret_cast<const std::byte*>(raw.data), raw.step[0] * raw.rows),
          static_cast<std::uint32_t>(raw.cols), static_cast<std::uint32_t>(raw.rows), raw.step[0], format};
}

// Takes the newest frame: copies its pixels into `raw`, releases it, and returns it when it was
// intact all along. nullopt on timeout, or when the producer lapped the read (counted as torn
// by the reader; the copy is not to be shown).
std::optional<TakenFrame> take_frame(ring::RingReader& reader, cv::Mat& raw, std::chrono::nanoseconds timeout) {
  auto frame = reader.read(timeout);
  if (!frame) return std::nullopt;
  FrameRenderer::copy_raw({frame->pixels, frame->width, frame->height, frame->stride_bytes, frame->pixel_format}, raw);
  const TakenFrame taken{frame->sequence, frame->pixel_format};
  if (!reader.release(*frame)) {
    spdlog::debug("frame {} was overwritten while being copied (torn): not shown", taken.sequence);
    return std::nullopt;
  }
  return taken;
}

/// What every mode counts, for the periodic rate line and the summary.
struct Tally {
  stage::RateReport shown{"shown", stage::kReportPeriod};  ///< frames rendered and shown, or written
  std::uint64_t snapshots = 0;                              ///< PNG files written
  std::optional<std::uint64_t> last_sequence;
  ContrastLimits limits;
};

void log_rates(const DisplayOptions& o, const ring::RingReader& reader, Tally& t, const FrameRenderer& renderer) {
  t.shown.log_if_due([&] {
    return fmt::format("ring {}: sequence {}, {}, snapshots {}, contrast {} [{}, {}]", o.ring,
                       t.last_sequence ? fmt::to_string(*t.last_sequence) : "-", stage::describe(reader.counters()),
                       t.snapshots, to_string(renderer.contrast().settings().mode), t.limits.low, t.limits.high);
  });
}

void log_summary(const DisplayOptions& o, const ring::RingReader& reader, const Tally& t, std::string_view why) {
  spdlog::info("display of ring {} ended ({}): shown {} frames, {} snapshots in {:.1f} s; {}", o.ring, why,
               t.shown.frames(), t.snapshots, t.shown.total().seconds, stage::describe(reader.counters()));
}

// ---- headless: snapshots -----------------------------------------------------------------------

int run_snapshots(const DisplayOptions& o, ring::RingReader& reader, FrameRenderer& renderer, SnapshotWriter& writer,
                  stage::Control& control) {
  const bool single = o.snapshot;
  const std::uint64_t wanted = single ? 1 : o.frames;
  const std::uint64_t period_ns = stage::to_ns(o.snapshot_every_s);
  Tally t;
  cv::Mat raw;
  cv::Mat image;
  std::uint64_t next_due_ns = monotonic_ns();
  while (stage::keep_running(t.snapshots, wanted)) {
    control.poll();  // live changes, between frames
    log_rates(o, reader, t, renderer);
    if (!stage::wait_until(next_due_ns)) continue;  // the snapshot period
    const auto taken = take_frame(reader, raw, stage::kPollPeriod);
    if (!taken) continue;
    const MonoImageView view = view_of(raw, taken->pixel_format);
    if (o.snapshot_raw) {
      FrameRenderer::png_ready_raw(raw, taken->pixel_format, image);
    } else {
      t.limits = renderer.render(view, image);
    }
    std::filesystem::path written;
    try {
      written = writer.write(image, taken->sequence);
    } catch (const Error& e) {
      if (single) throw;
      spdlog::error("{}", e.what());
      next_due_ns = monotonic_ns() + period_ns;
      continue;
    }
    ++t.snapshots;
    t.shown.count();
    t.last_sequence = taken->sequence;
    if (!o.snapshot_raw) control.took_effect(taken->sequence, o.ring);
    spdlog::debug("wrote {} (sequence {})", written.string(), taken->sequence);
    if (single) spdlog::info("wrote {} (sequence {})", written.string(), taken->sequence);
    next_due_ns += period_ns;
    if (next_due_ns < monotonic_ns()) next_due_ns = monotonic_ns() + period_ns;  // fell behind: keep the period
  }
  log_summary(o, reader, t, stage::end_reason("frames done"));
  return 0;
}

// ---- window --------------------------------------------------------------------------------------

class DisplayWindow {
 public:
  DisplayWindow(const DisplayOptions& o, ring::RingReader& reader, FrameRenderer& renderer, stage::Control& control)
      : o_(o), reader_(reader), renderer_(renderer), control_(control),
        title_(fmt::format("framering display: {} / {}", o.common.instance, o.ring)) {
    try {
      cv::namedWindow(title_, cv::WINDOW_GUI_NORMAL | cv::WINDOW_KEEPRATIO | cv::WINDOW_NORMAL);
    } catch (const cv::Exception& e) {
      throw Error(fmt::format("cannot open a window on DISPLAY={}: {} (use --headless for snapshots)",
                              std::getenv("DISPLAY") != nullptr ? std::getenv("DISPLAY") : "", e.what()));
    }
  }
  ~DisplayWindow() {
    try {
      cv::destroyWindow(title_);
      cv::waitKey(1);
    } catch (const cv::Exception&) {  // closed by the user already
    }
  }
  DisplayWindow(const DisplayWindow&) = delete;
  DisplayWindow& operator=(const DisplayWindow&) = delete;

  int run() {
    const std::uint64_t period_ns = stage::to_ns(1.0 / o_.max_fps);
    std::uint64_t next_show_ns = 0;
    std::string_view why = "frames done";
    while (o_.frames == 0 || t_.shown.frames() < o_.frames) {
      if (stop_requested()) {
        why = stage::end_reason(why);
        break;
      }
      control_.poll();  // live changes, between frames
      log_rates(o_, reader_, t_, renderer_);
      const std::uint64_t now = monotonic_ns();
      const std::uint64_t wait_ns = next_show_ns > now ? next_show_ns - now : 0;
      // waitKey runs the GUI event loop; its delay is what caps the refresh at --max-fps.
      const int key = cv::waitKey(static_cast<int>(std::clamp<std::uint64_t>(wait_ns / 1'000'000, 1, 100)));
      if (key >= 0 && !handle_key(key & 0xFF)) {
        why = "quit key";
        break;
      }
      if (t_.shown.frames() > 0 && !is_visible()) {
        why = "window closed";
        break;
      }
      if (paused_ || monotonic_ns() < next_show_ns) continue;
      const auto taken = take_frame(reader_, raw_, 20ms);
      if (!taken) continue;
      format_ = taken->pixel_format;
      t_.last_sequence = taken->sequence;
      t_.limits = renderer_.render(view_of(raw_, format_), image_);
      if (const auto milli_fps = rate_.tick(monotonic_ns())) fps_ = static_cast<double>(*milli_fps) / 1000.0;
      t_.shown.count();
      show();
      control_.took_effect(taken->sequence, o_.ring);
      // On the --max-fps cadence; after a pause or a slow frame, from now (no catching up).
      next_show_ns = std::max(next_show_ns + period_ns, monotonic_ns());
    }
    log_summary(o_, reader_, t_, why);
    return 0;
  }

 private:
  // Returns false to quit.
  bool handle_key(int key) {
    switch (key) {
      case 'q':
      case 'Q':
      case 27:  // Esc
        return false;
      case 's':
      case 'S':
        snapshot();
        break;
      case 'p':
      case 'P':
        paused_ = !paused_;
        spdlog::info("{}", paused_ ? "paused" : "resumed");
        if (t_.last_sequence) show();
        break;
      case 'c':
      case 'C':
        renderer_.contrast().set_mode(next_contrast_mode(renderer_.contrast().settings().mode));
        spdlog::info("contrast {}", to_string(renderer_.contrast().settings().mode));
        if (t_.last_sequence) {  // show the current frame again in the new mode (it matters when paused)
          t_.limits = renderer_.render(view_of(raw_, format_), image_);
          show();
        }
        break;
      default:
        break;
    }
    return true;
  }

  void snapshot() {
    if (!t_.last_sequence) {
      spdlog::warn("no frame shown yet: no snapshot");
      return;
    }
    try {
      if (!writer_) writer_.emplace(o_.snapshot_dir, o_.ring);
      cv::Mat raw_png;
      if (o_.snapshot_raw) FrameRenderer::png_ready_raw(raw_, format_, raw_png);
      const auto path = writer_->write(o_.snapshot_raw ? raw_png : image_, *t_.last_sequence);
      ++t_.snapshots;
      spdlog::info("wrote {} (sequence {})", path.string(), *t_.last_sequence);
    } catch (const Error& e) {
      spdlog::error("snapshot: {}", e.what());
    }
  }

  [[nodiscard]] bool is_visible() const {
    try {
      const double visible = cv::getWindowProperty(title_, cv::WND_PROP_VISIBLE);
      return !(visible >= 0.0 && visible < 0.5);  // -1: the backend cannot tell
    } catch (const cv::Exception&) {
      return false;
    }
  }

  void show() {
    if (image_.cols != shown_cols_ || image_.rows != shown_rows_) {
      cv::resizeWindow(title_, image_.cols, image_.rows);  // one screen pixel per frame pixel to start with
      shown_cols_ = image_.cols;
      shown_rows_ = image_.rows;
    }
    if (o_.no_overlay) {
      cv::imshow(title_, image_);
      return;
    }
    image_.copyTo(overlaid_);
    draw_overlay(overlaid_);
    cv::imshow(title_, overlaid_);
  }

  void draw_overlay(cv::Mat& image) const {
    const auto c = reader_.counters();
    const std::string line1 = fmt::format("{:.1f} fps  seq {}  skipped {}  torn {}", fps_,
                                          t_.last_sequence.value_or(0), c.frames_skipped, c.frames_torn);
    const std::string line2 =
        fmt::format("{} [{}, {}]  {}{}", to_string(renderer_.contrast().settings().mode), t_.limits.low,
                    t_.limits.high, renderer_.colormap().name(), paused_ ? "  PAUSED" : "");
    const double scale = std::clamp(image.rows / 900.0, 0.35, 1.5);
    const int thickness = std::max(1, static_cast<int>(std::lround(scale * 1.5)));
    const int line_height = static_cast<int>(std::lround(28 * scale)) + 4;
    int y = line_height;
    for (const std::string& line : {line1, line2}) {
      // A dark outline under light text stays readable on any colour map.
      cv::putText(image, line, {6, y}, cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar::all(0), thickness + 2, cv::LINE_AA);
      cv::putText(image, line, {6, y}, cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar::all(255), thickness, cv::LINE_AA);
      y += line_height;
    }
  }

  const DisplayOptions& o_;
  ring::RingReader& reader_;
  FrameRenderer& renderer_;
  stage::Control& control_;
  std::string title_;
  Tally t_;
  RateWindow rate_;  ///< the overlay's frames per second, over about a second
  double fps_ = 0;
  cv::Mat raw_;
  cv::Mat image_;
  cv::Mat overlaid_;
  PixelFormat format_ = PixelFormat::Mono16;
  bool paused_ = false;
  int shown_cols_ = 0;
  int shown_rows_ = 0;
  std::optional<SnapshotWriter> writer_;
};

// ---- the command ---------------------------------------------------------------------------------

// The live parameters (PATCH /api/v1/stages/{name}/params): the contrast stretch.
std::vector<stage::ParamSpec> live_params(const ContrastSettings& c) {
  using Type = stage::ParamSpec::Type;
  return {
      {.name = "contrast", .type = Type::Choice, .value = std::string(to_string(c.mode)),
       .choices = {"minmax", "percentile", "fixed"}, .doc = "how frames are stretched to 8 bits"},
      {.name = "percentile_low", .type = Type::Number, .value = c.percentile_low, .min = 0, .max = 100, .units = "%",
       .doc = "percentile: the percentile that maps to black"},
      {.name = "percentile_high", .type = Type::Number, .value = c.percentile_high, .min = 0, .max = 100, .units = "%",
       .doc = "percentile: the percentile that maps to white"},
      {.name = "fixed_min", .type = Type::Integer, .value = c.fixed_min, .min = 0, .max = 65535, .units = "counts",
       .doc = "fixed: the count that maps to black"},
      {.name = "fixed_max", .type = Type::Integer, .value = c.fixed_max ? nlohmann::json(*c.fixed_max) : nlohmann::json(nullptr),
       .min = 1, .max = 65535, .units = "counts", .doc = "fixed: the count that maps to white (null: the format's full scale)"},
  };
}

// A live change of the stretch: a new ContrastStretch (it checks the combination), between frames.
std::optional<stage::Refusal> change_contrast(const nlohmann::json& changes, FrameRenderer& renderer) {
  ContrastSettings next = renderer.contrast().settings();
  if (changes.contains("contrast")) next.mode = *parse_contrast_mode(changes["contrast"].get<std::string>());
  if (changes.contains("percentile_low")) next.percentile_low = changes["percentile_low"].get<double>();
  if (changes.contains("percentile_high")) next.percentile_high = changes["percentile_high"].get<double>();
  if (changes.contains("fixed_min")) next.fixed_min = changes["fixed_min"].get<std::uint32_t>();
  if (changes.contains("fixed_max")) next.fixed_max = changes["fixed_max"].get<std::uint32_t>();
  try {
    renderer.contrast() = ContrastStretch(next);
  } catch (const ConfigError& e) {
    return stage::Refusal{422, changes.begin().key(), fmt::format("display: {}", e.what())};
  }
  spdlog::info("contrast now {}", to_string(next.mode));
  return std::nullopt;
}

int run_display(const DisplayOptions& o) {
  stage::begin("display", o.common, {o.ring});

  ContrastSettings contrast;
  contrast.mode = parse_contrast_mode(o.contrast).value_or(ContrastMode::Percentile);
  contrast.percentile_low = o.percentile_low;
  contrast.percentile_high = o.percentile_high;
  contrast.fixed_min = o.fixed_min;
  if (o.fixed_max_given) contrast.fixed_max = o.fixed_max;
  FrameRenderer renderer(contrast, Colormap::from_name(o.colormap));

  const char* display = std::getenv("DISPLAY");
  const bool has_display = display != nullptr && *display != '\0';
  const bool windowed = !o.snapshot && !o.headless && has_display;
  // Snapshots are what a headless display is for: check the directory before waiting for anything.
  std::optional<SnapshotWriter> writer;
  if (!windowed) writer.emplace(o.snapshot_dir, o.ring);

  auto reader = stage::attach_input(o.common.instance, o.ring, {.name = o.name, .kind = ring::ConsumerKind::Newest, .wait = o.wait},
                                    {.timeout = stage::from_seconds(o.wait_for_ring_s), .option = "--wait-for-ring-s"});
  if (!reader) return 0;
  const auto& h = reader->segment().header();
  spdlog::info("display of ring {} (instance {}): {}x{} {}, consumer '{}'{}; {}", o.ring, o.common.instance, h.width,
               h.height, to_string(static_cast<PixelFormat>(h.pixel_format)), reader->name(),
               reader->resumed() ? " (resumed)" : "",
               windowed          ? fmt::format("window on DISPLAY={}", display)
               : o.snapshot      ? fmt::format("one snapshot into {}", writer->directory().string())
                                 : fmt::format("a snapshot every {} s into {}{}", o.snapshot_every_s,
                                          writer->directory().string(), has_display ? " (--headless)" : " (no DISPLAY)"));
  stage::Control control("display", live_params(renderer.contrast().settings()),
                         [&](const nlohmann::json& changes) { return change_contrast(changes, renderer); });
  if (!windowed) return run_snapshots(o, *reader, renderer, *writer, control);
  DisplayWindow window(o, *reader, renderer, control);
  return window.run();
}

}  // namespace

void add_display_subcommand(CLI::App& app, StageCommand& command) {
  auto o = std::make_shared<DisplayOptions>();
  CLI::App* cmd = app.add_subcommand("display", "Show the newest frame of a ring in a window, or write PNG snapshots");
  cmd->footer(
      "A newest consumer: it takes the newest frame when it is ready for one and never slows the producer.\n"
      "With a display ($DISPLAY set, no --headless): a window with an overlay of the display rate, sequence,\n"
      "and skipped and torn counts. Keys: q/Esc quit, s snapshot (PNG into --snapshot-dir), p pause,\n"
      "c cycle the contrast mode (minmax, percentile, fixed).\n"
      "Without one: a PNG every --snapshot-every-s into --snapshot-dir, named <ring>-<sequence>.png, and\n"
      "latest.png (replaced atomically); --snapshot writes one and exits. Snapshots are the contrast-stretched\n"
      "(and colour-mapped) 8-bit image without overlay; --snapshot-raw writes the frame as it is (16-bit PNG).\n"
      "Colour rings (RGB8, BGR8) are shown in colour, one contrast stretch over all three channels (the colour\n"
      "balance kept), no colour map; Bayer rings are stretched, then demosaiced (OpenCV bilinear) for the screen.\n"
      "Exit codes: 0 ok, 2 could not start, 100+ command-line errors.\n"
      "Examples:\n"
      "  framering display --ring raw --contrast percentile --colormap inferno\n"
      "  framering display --ring processed --headless --snapshot-every-s 10 --snapshot-dir /tmp/shots\n"
      "  framering display --ring raw --snapshot --snapshot-dir .");
  add_common_options(*cmd, o->common);
  cmd->add_option("--ring", o->ring, "Ring to show")->capture_default_str();
  cmd->add_option("--name", o->name, "Consumer name in the ring (1-31 of [A-Za-z0-9_-]; framering run: the stage's name)")
      ->envname(kStageEnvName)
      ->capture_default_str();
  add_wait_option(*cmd, o->wait);
  cmd->add_option("--contrast", o->contrast, "Contrast stretch to 8 bits: minmax, percentile or fixed")
      ->check(CLI::IsMember({"minmax", "percentile", "fixed"}))
      ->capture_default_str();
  cmd->add_option("--percentile-low", o->percentile_low, "percentile: the percentile (in %) that maps to black")
      ->check(CLI::Range(0.0, 100.0))
      ->capture_default_str();
  cmd->add_option("--percentile-high", o->percentile_high, "percentile: the percentile (in %) that maps to white")
      ->check(CLI::Range(0.0, 100.0))
      ->capture_default_str();
  cmd->add_option("--fixed-min", o->fixed_min, "fixed: the count that maps to black")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  cmd->add_option("--fixed-max", o->fixed_max,
                  "fixed: the count that maps to white (default: the pixel format's full scale, 65535 for Mono16)")
      ->check(CLI::Range(0, 65535))
      ->each([o](const std::string&) { o->fixed_max_given = true; });
  cmd->add_option("--colormap", o->colormap, "Colour map: " + Colormap::names())
      ->check(CLI::Validator(
          [](std::string& name) -> std::string {
            try {
              (void)Colormap::from_name(name);
              return {};
            } catch (const ConfigError& e) {
              return e.what();
            }
          },
          "NAME", "colormap"))
      ->capture_default_str();
  cmd->add_flag("--headless", o->headless, "No window even when $DISPLAY is set: write snapshots");
  cmd->add_flag("--no-overlay", o->no_overlay, "Window: no text over the image");
  cmd->add_option("--max-fps", o->max_fps, "Window: most refreshes per second")
      ->check(CLI::Range(0.1, 1000.0))
      ->capture_default_str();
  cmd->add_option("--snapshot-dir", o->snapshot_dir, "Directory for PNG snapshots (created when missing)")
      ->capture_default_str();
  cmd->add_option("--snapshot-every-s", o->snapshot_every_s, "Headless: seconds between snapshots")
      ->check(CLI::Range(0.001, 86400.0))
      ->capture_default_str();
  cmd->add_flag("--snapshot", o->snapshot, "Write one snapshot of the newest frame and exit (no window)");
  cmd->add_flag("--snapshot-raw", o->snapshot_raw,
                "Snapshots hold the frame's own counts (16-bit PNG for 16-bit formats), not the 8-bit image");
  cmd->add_option("--wait-for-ring-s", o->wait_for_ring_s, "Seconds to wait for the ring to be created")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  cmd->add_option("--frames", o->frames, "Stop after showing (or snapshotting) this many frames; 0 = until stopped")
      ->capture_default_str();
  cmd->callback([o, &command] {
    command.action = [o] { return run_display(*o); };
    command.rings = [o] { return std::vector<RingUse>{{.ring = o->ring, .role = RingRole::ConsumesNewest}}; };
  });
}

}  // namespace framering::display
