// acquire_command.cpp: `framering acquire`: parse, build the source, create or re-attach the
// ring, and run the producer loop (paced, counted, stoppable).
#include "framering/acquire/acquire_command.hpp"

#include <cerrno>
#include <ctime>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framering/acquire/aravis_source.hpp"
#include "framering/acquire/file_source.hpp"
#include "framering/acquire/opencv_source.hpp"
#include "framering/acquire/pattern_source.hpp"
#include "framering/common/clock.hpp"
#include "framering/common/error.hpp"
#include "framering/common/pixel_format.hpp"
#include "framering/common/ring_writer.hpp"
#include "framering/common/stage_control.hpp"
#include "framering/common/stage_kit.hpp"
#include "framering/common/stop_signal.hpp"

namespace framering::acquire {
namespace {

constexpr std::uint64_t kNsPerSecond = 1'000'000'000ULL;

PixelFormat parse_format(const std::string& name) {
  const auto format = parse_pixel_format(name);
  if (!format) {
    throw ConfigError(fmt::format("--pixel-format '{}' is not a PFNC format framering carries: expected one of {} "
                                  "(spelt exactly so)",
                                  name, pixel_format_names(all_pixel_formats())));
  }
  return *format;
}

AravisSourceOptions aravis_options(const AcquireOptions& o) {
  AravisSourceOptions a;
  a.camera_id = o.camera;
  if (o.pixel_format_given) a.pixel_format = o.pixel_format;
  if (o.width_given) a.width = o.width;
  if (o.height_given) a.height = o.height;
  if (o.offset_x_given) a.offset_x = o.offset_x;
  if (o.offset_y_given) a.offset_y = o.offset_y;
  if (o.exposure_given) a.exposure_us = o.exposure_us;
  if (o.gain_given) a.gain = o.gain;
  if (o.rate_given && o.rate_hz > 0 && o.trigger != "Software") a.frame_rate_hz = o.rate_hz;
  a.trigger = o.trigger;
  a.stream_buffers = o.stream_buffers;
  a.lend_slots = o.lend;
  a.packet_size_bytes = o.packet_size_bytes;
  a.packet_socket = o.packet_socket;
  a.wait_for_camera = o.wait_for_camera;
  a.frame_timeout_s = o.camera_timeout_s;
  a.reconnect_max_s = o.reconnect_max_s;
  return a;
}

std::unique_ptr<FrameSource> make_source(const AcquireOptions& o, PixelFormat format) {
  if (o.source == "aravis") return std::make_unique<AravisSource>(aravis_options(o));
  if (o.source == "opencv") {
    OpenCvSourceOptions c;
    c.device = o.device;
    c.pixel_format = format;
    c.scale_8bit = o.scale_to_16bit;
    if (o.width_given) c.width = o.width;
    if (o.height_given) c.height = o.height;
    if (o.rate_given && o.rate_hz > 0) c.fps = o.rate_hz;
    return std::make_unique<OpenCvSource>(c);
  }
  if (o.source == "files") {
    auto source = std::make_unique<FileSource>(
        FileSourceOptions{.path = o.path, .loop = o.loop, .scale_to_16bit = o.scale_to_16bit, .pixel_format = format});
    const FrameShape shape = source->shape();
    if ((o.width_given && o.width != shape.width) || (o.height_given && o.height != shape.height)) {
      throw ConfigError(fmt::format("--path '{}' holds {}x{} frames but --width/--height ask for {}x{}: leave them out "
                                    "(the ring follows the source) or give the source's size",
                                    o.path, shape.width, shape.height, o.width, o.height));
    }
    return source;
  }
  if (o.source != "pattern") {
    throw ConfigError(fmt::format("--source '{}' is not pattern, files, aravis or opencv", o.source));
  }
  const auto scene = parse_scene(o.scene);
  if (!scene) throw ConfigError(fmt::format("--scene '{}' is not microscopy, droplets, testpattern or grating", o.scene));
  ring::RingGeometry check{.frame = {.width = o.width, .height = o.height, .pixel_format = format}};
  check.validate();  // before a scene sizes its tables by width and height
  return std::make_unique<PatternSource>(PatternOptions{.width = o.width,
                                                        .height = o.height,
                                                        .pixel_format = format,
                                                        .scene = *scene,
                                                        .seed = o.seed,
                                                        .grating_cycles_per_pixel = o.grating_cycles_per_pixel,
                                                        .grating_angle_deg = o.grating_angle_deg,
                                                        .grating_amplitude_counts = o.grating_amplitude});
}

// Sleeps until `deadline_ns` on CLOCK_MONOTONIC. Returns early when a stop is requested (the
// signal interrupts the sleep).
void sleep_until(std::uint64_t deadline_ns) noexcept {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(deadline_ns / kNsPerSecond);
  ts.tv_nsec = static_cast<long>(deadline_ns % kNsPerSecond);
  while (!stop_requested()) {
    const int rc = ::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
    if (rc != EINTR) return;
  }
}

/// The --rate-hz schedule: absolute deadlines on CLOCK_MONOTONIC, so lateness does not
/// accumulate. Period 0: unpaced (flat out, or a source that paces itself).
class Schedule {
 public:
  explicit Schedule(std::uint64_t period_ns) : period_ns_(period_ns), next_ns_(monotonic_ns()) {}

  /// Waits for the next tick. False when a stop came meanwhile.
  bool wait() noexcept {
    if (period_ns_ == 0) return true;
    sleep_until(next_ns_);
    if (stop_requested()) return false;
    next_ns_ += period_ns_;
    const std::uint64_t now = monotonic_ns();
    if (now > next_ns_ + period_ns_) {  // more than a period behind: re-anchor, no burst
      ++late_ticks_;
      next_ns_ = now;
    }
    return true;
  }

  /// Ticks that came a whole period or more late.
  [[nodiscard]] std::uint64_t late_ticks() const noexcept { return late_ticks_; }

  /// A new period from the next tick on (a live change of --rate-hz): the next frame is due one
  /// new period after the last one, or now if that has passed.
  void set_period(std::uint64_t period_ns) noexcept {
    next_ns_ = std::max(next_ns_ - period_ns_ + period_ns, monotonic_ns());
    period_ns_ = period_ns;
  }

 private:
  std::uint64_t period_ns_;
  std::uint64_t next_ns_;
  std::uint64_t late_ticks_ = 0;
};

// Counters of one run.
struct Stats {
  stage::RateReport published;
  std::uint64_t first_sequence = 0;
  std::uint64_t dropped_claim = 0;       // a claim timed out: an every consumer held the slot
  std::uint64_t dropped_unreadable = 0;  // the source could not read a frame
  std::uint64_t dropped_at_last_line = 0;
  // Frames that never reached the ring since the last published one: those dropped here, and
  // what the source had lost before each. The next published frame carries both in its
  // source_frames_lost, so a reader (the recorder's gaps) sees every hole before the ring; the
  // ring counts the first in frames_dropped, the second in the source's frames_lost.
  std::uint64_t dropped_since_publish = 0;
  std::uint64_t source_lost_since_publish = 0;
  bool source_ended = false;

  [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_claim + dropped_unreadable; }
};

// The periodic info line's part after the rates.
std::string interval_details(Stats& s, const Schedule& schedule, const ring::RingWriter& writer) {
  const std::string text = fmt::format(
      "next sequence {}; dropped {} (total {}: {} claim timeouts, {} unreadable){}", writer.next_sequence(),
      s.dropped() - s.dropped_at_last_line, s.dropped(), s.dropped_claim, s.dropped_unreadable,
      schedule.late_ticks() > 0 ? fmt::format("; fell behind the rate {} times", schedule.late_ticks()) : std::string{});
  s.dropped_at_last_line = s.dropped();
  return text;
}

// The ring for the source's frames: created, or re-attached to a compatible one.
ring::RingWriter open_ring(const AcquireOptions& o, const FrameShape& source_shape) {
  // Packed rows (stride 0) unless --row-stride-bytes, whatever stride the source reports; a
  // camera's own pixel format when --pixel-format was not given.
  ring::RingGeometry geometry{
      .frame = {.width = source_shape.width,
                .height = source_shape.height,
                .pixel_format = source_shape.pixel_format,
                .stride_bytes = o.row_stride_bytes},
      .slot_count = o.slots,
      .max_consumers = o.max_consumers};
  geometry.validate();
  ring::WriterOptions writer_options;
  writer_options.access = o.group_access ? ring::Access::Group : ring::Access::Private;
  return ring::RingWriter::create_or_attach(o.common.instance, o.ring, geometry, writer_options);
}

void log_start(const AcquireOptions& o, const FrameSource& source, const ring::RingWriter& writer) {
  spdlog::info("{} -> ring {} of instance {} ({}, {} at sequence {}); rate {}, {}", source.describe(), o.ring,
               o.common.instance, writer.segment().geometry().to_string(),
               writer.reattached() ? "re-attached" : "created", writer.next_sequence(),
               source.paces_itself() ? std::string{"paced by the source"}
               : o.rate_hz > 0       ? fmt::format("{} Hz", o.rate_hz)
                                     : std::string{"flat out"},
               o.frames > 0 ? fmt::format("{} frames", o.frames) : std::string{"until SIGINT/SIGTERM"});
}

// Source losses: the ring keeps totals over producer restarts, so this run adds to what it
// finds. Returns the frames lost the ring counted before this run.
std::uint64_t add_source_stats_to_ring(FrameSource& source, ring::RingWriter& writer) {
  const ring::ProducerControl::SourceStats base = writer.source_stats();
  source.set_stats_sink([&writer, base](const ring::ProducerControl::SourceStats& s) {
    ring::ProducerControl::SourceStats total = s;
    total.frames_incomplete += base.frames_incomplete;
    total.frames_timed_out += base.frames_timed_out;
    total.underruns += base.underruns;
    total.packets_missing += base.packets_missing;
    total.packets_resent += base.packets_resent;
    total.outages += base.outages;
    writer.set_source_stats(total);
  });
  return base.frames_lost;
}

}  // namespace

std::chrono::nanoseconds claim_timeout(const AcquireOptions& options) noexcept {
  if (options.claim_timeout_ms) return std::chrono::milliseconds{*options.claim_timeout_ms};
  return options.source == "files" ? stage::kNoTimeout : std::chrono::nanoseconds{kLiveClaimTimeout};
}

namespace {

// One frame: grab it from the source, claim a slot (waiting up to --claim-timeout-ms for an
// every consumer), write it in place, publish. A frame that cannot be read or placed is counted
// as dropped, and it (with the source's loss before it) is added to the next published frame's
// source_frames_lost. Returns false when the run ends: a stop, or the end of the source.
bool acquire_one(const AcquireOptions& o, FrameSource& source, ring::RingWriter& writer, const FrameShape& frame,
                 Stats& stats, stage::Control& control) {
  const auto grabbed = source.grab();
  if (!grabbed) {
    if (grabbed.error() == GrabError::Stopped) return false;
    if (grabbed.error() == GrabError::EndOfSource) {
      stats.source_ended = true;
      return false;
    }
    ++stats.dropped_unreadable;
    ++stats.dropped_since_publish;
    writer.count_dropped(1);
    return true;
  }
  const auto slot = stage::claim(writer, claim_timeout(o));
  if (!slot && slot.error() == stage::ClaimEnd::Stopped) return false;
  if (!slot) {
    ++stats.dropped_claim;
    ++stats.dropped_since_publish;
    stats.source_lost_since_publish += grabbed->source_frames_lost;
    writer.count_dropped(1);
    if (stats.dropped_claim == 1 || stats.dropped_claim % 100 == 0) {
      spdlog::warn("dropped source frame {}: an every consumer held slot {} for {} ms ({} claim timeouts so far)",
                   grabbed->camera_frame_id, writer.next_sequence() % writer.segment().slot_count(),
                   std::chrono::duration_cast<std::chrono::milliseconds>(claim_timeout(o)).count(),
                   stats.dropped_claim);
    }
    return true;
  }
  source.write(slot->pixels, frame, slot->sequence);
  writer.publish({.timestamp_ns = grabbed->timestamp_ns,
                  .camera_frame_id = grabbed->camera_frame_id,
                  .source_frames_lost = grabbed->source_frames_lost + stats.source_lost_since_publish,
                  .dropped_before = stats.dropped_since_publish,
                  .settings_generation = control.generation()});
  control.took_effect(slot->sequence, o.ring);
  stats.dropped_since_publish = 0;
  stats.source_lost_since_publish = 0;
  stats.published.count();
  return true;
}

// Logs the summary line; returns the exit code: 3 when frames were dropped or the source lost
// some, else 0.
int summarise(const AcquireOptions& o, const ring::RingWriter& writer, const Stats& stats,
              std::uint64_t source_lost_before) {
  const ring::ProducerControl::SourceStats source_stats = writer.source_stats();
  const std::uint64_t source_lost = source_stats.frames_lost - source_lost_before;
  const stage::Throughput run = stats.published.total();
  const std::string why = stop_requested()     ? fmt::format("stopped by signal {}", stage::end_reason(""))
                          : stats.source_ended ? std::string{"end of source"}
                                               : std::string{"frame count reached"};
  const std::string range = run.frames > 0
                                ? fmt::format("sequences {}..{}", stats.first_sequence, writer.next_sequence() - 1)
                                : std::string{"no sequence"};
  const bool lost = stats.dropped() > 0 || source_lost > 0;
  const std::string source_line =
      o.source == "aravis"
          ? fmt::format("; camera (ring totals): {} frames lost, {} incomplete, {} timed out, {} underruns, {} packets "
                        "missing, {} resent, {} outages",
                        source_stats.frames_lost, source_stats.frames_incomplete, source_stats.frames_timed_out,
                        source_stats.underruns, source_stats.packets_missing, source_stats.packets_resent,
                        source_stats.outages)
          : std::string{};
  spdlog::log(lost ? spdlog::level::warn : spdlog::level::info,
              "acquire done ({}): published {} frames ({}) in {:.2f} s, {:.1f} fps; dropped {} ({} claim timeouts, "
              "{} unreadable source frames){}",
              why, run.frames, range, run.seconds, run.frames_per_s(), stats.dropped(), stats.dropped_claim,
              stats.dropped_unreadable, source_line);
  return lost ? 3 : 0;
}

}  // namespace

int run_acquire(const AcquireOptions& o) {
  stage::begin("acquire", o.common, {o.ring});
  if (!(o.rate_hz >= 0.0 && o.rate_hz <= 1e6)) throw ConfigError(fmt::format("--rate-hz {} is outside 0..1000000", o.rate_hz));
  // Declared before the source so that it outlives it: a source may have lent its driver ring
  // slots, which it takes back when it is destroyed (FrameSource::use_ring).
  std::optional<ring::RingWriter> ring_writer;
  std::unique_ptr<FrameSource> source = make_source(o, parse_format(o.pixel_format));
  if (stop_requested()) return 0;  // stopped while waiting for a camera
  ring::RingWriter& writer = ring_writer.emplace(open_ring(o, source->shape()));
  log_start(o, *source, writer);
  if (!stage::wait_for_consumers(writer, o.wait_for_consumers, stage::from_seconds(o.wait_for_consumers_s))) return 0;
  const std::uint64_t source_lost_before = add_source_stats_to_ring(*source, writer);
  source->use_ring(writer);

  const auto& h = writer.segment().header();
  const FrameShape frame{h.width, h.height, static_cast<PixelFormat>(h.pixel_format), h.stride_bytes};
  const bool paced = o.rate_hz > 0 && !source->paces_itself();
  Schedule schedule(paced ? stage::to_ns(1.0 / o.rate_hz) : 0);
  Stats stats{.published = stage::RateReport("published", stage::from_seconds(std::max(0.1, o.stats_interval_s))),
              .first_sequence = writer.next_sequence()};
  // Live parameters: the loop's --rate-hz when it paces the source, and the source's own (a camera's).
  std::vector<stage::ParamSpec> params;
  if (paced) {
    params.push_back({.name = "rate_hz", .type = stage::ParamSpec::Type::Number, .value = o.rate_hz, .min = 0.001,
                      .max = 1e6, .units = "frames/s", .doc = "the pace of the source (--rate-hz)"});
  }
  for (auto& p : source->live_params()) params.push_back(std::move(p));
  // The callback may run inside the constructor (the changes a restart gets back) and names the
  // object being made: `control` is in scope in its own initializer and used only through it.
  stage::Control control("acquire", std::move(params), [&](const nlohmann::json& changes) {
    nlohmann::json for_source = changes;
    if (changes.contains("rate_hz")) {
      schedule.set_period(stage::to_ns(1.0 / changes["rate_hz"].get<double>()));
      spdlog::info("rate now {} Hz", changes["rate_hz"].get<double>());
      for_source.erase("rate_hz");
    }
    if (for_source.empty()) return std::optional<stage::Refusal>{};
    return source->apply_live(for_source, [&](const std::string& name, double value) { control.set_value(name, value); });
  });
  // A change is looked at after the pace's wait, so that it reaches the very next frame.
  while (stage::keep_running(stats.published.frames(), o.frames) && schedule.wait() && (control.poll(), true) &&
         acquire_one(o, *source, writer, frame, stats, control)) {
    stats.published.log_if_due([&] { return interval_details(stats, schedule, writer); });
  }
  source->flush_stats();
  // What the source lost before frames dropped after the last published one: no frame carries it.
  writer.count_source_lost(stats.source_lost_since_publish);
  const int code = summarise(o, writer, stats, source_lost_before);
  source.reset();  // takes back what it lent before the ring goes (and says what it lent)
  return code;
}

void add_acquire_subcommand(CLI::App& app, StageCommand& command) {
  auto o = std::make_shared<AcquireOptions>();
  CLI::App* cmd = app.add_subcommand(
      "acquire", "Produce frames into a ring: synthetic scenes, TIFF stacks, image sequences, videos, GenICam and V4L2 cameras");
  cmd->footer(
      "The only producer of its ring: it creates the ring, or re-attaches to a compatible one and continues\n"
      "its sequence. Frames are rendered or converted straight into the claimed slot. camera_frame_id is the\n"
      "source's own counter (frames since start; files: index in the file or sequence, counting across loops);\n"
      "timestamps are CLOCK_REALTIME at render or grab.\n"
      "Scenes (--source pattern), in Mono16 counts, shifted right for Mono8/Mono12:\n"
      "  microscopy   Gaussian beads drifting on a dark background, Poisson shot noise (seeded)\n"
      "  droplets     skyscreen's droplet rings: concentric rings that expand and fade (seeded)\n"
      "  testpattern  sample c of pixel(x, y) = (sequence + x + 3y + 85c) & mask (c: 0 for Mono/Bayer, 0..2 for\n"
      "               RGB8/BGR8): any consumer can verify every pixel; the only scene in colour and Bayer formats\n"
      "  grating      32768 + amplitude * sin(2 pi f (x cos a + y sin a)), static, for filter tests\n"
      "Files (--source files): the ring's width and height follow the source; --width/--height, if given,\n"
      "must match it. Colour becomes grey in a Mono ring and stays colour in an RGB8/BGR8 ring; 8-bit into a\n"
      "16-bit ring is scaled x257 (see --scale-to-16bit).\n"
      "GenICam cameras (--source aravis, GigE Vision / USB3 Vision through Aravis): the ring follows the camera's\n"
      "settings as read back after --pixel-format, --width/--height/--offset-x/--offset-y, --exposure-us, --gain,\n"
      "--rate-hz (AcquisitionFrameRate) and --trigger are applied (options left out keep the camera's own).\n"
      "camera_frame_id is the camera's frame id (GigE Vision: 16-bit, wraps 65535 -> 1); a gap in it, a failed\n"
      "buffer or an outage is counted per frame (source_frames_lost) and in `framering status`. When the camera\n"
      "disappears the ring stays up; acquire reconnects with backoff and goes on with the sequence.\n"
      "Aravis writes each frame straight into a ring slot lent to it (packed rows, --slots >= 4; --no-lend copies\n"
      "instead): docs/cameras.md.\n"
      "V4L2 devices, streams and videos (--source opencv --device 0|/dev/video0|URL|file): converted to\n"
      "--pixel-format (Mono8 or Mono16: colour to grey; RGB8/BGR8: colour); the real size and rate are logged.\n"
      "Every info line (each --stats-interval-s) gives the publish rate and frames dropped.\n"
      "Exit codes: 0 done (frame count reached, end of a --no-loop source, or SIGINT/SIGTERM);\n"
      "2 could not start; 3 frames were dropped (claim timeouts or unreadable source frames) or the camera lost some.\n"
      "Examples:\n"
      "  framering acquire --instance lab1\n"
      "  framering acquire --scene testpattern --width 640 --height 480 --rate-hz 0 --frames 1000\n"
      "  framering acquire --source files --path stack.tif --rate-hz 10\n"
      "  framering acquire --source files --path '/data/run7/*.png' --no-loop --pixel-format Mono8\n"
      "  framering acquire --source aravis --camera Aravis-Fake-GV01 --pixel-format Mono16 --width 1920 --height 1080 --rate-hz 100\n"
      "  framering acquire --source opencv --device /dev/video0 --pixel-format Mono8");
  add_common_options(*cmd, o->common);

  auto* ring_group = cmd->add_option_group("Ring");
  ring_group->add_option("--ring", o->ring, "Ring to produce into: /dev/shm/framering.<instance>.<ring>")->capture_default_str();
  ring_group->add_option("--slots", o->slots, "Frames the ring holds")->check(CLI::Range(2, 65536))->capture_default_str();
  ring_group->add_option("--max-consumers", o->max_consumers, "Consumer table entries")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  ring_group->add_option("--row-stride-bytes", o->row_stride_bytes,
                         "Bytes between row starts in a slot; 0 = packed (width x bytes per pixel). A padded stride "
                         "(e.g. rows on 64-byte boundaries) makes --source aravis copy each frame instead of lending slots")
      ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{1} << 32))
      ->capture_default_str();
  ring_group->add_flag("--group-access", o->group_access, "Create the ring 0660 (the group may attach) instead of 0600");
  auto* pixel_format =
      ring_group->add_option("--pixel-format", o->pixel_format,
                             "Ring pixel format, PFNC name: Mono8, Mono12 or Mono16 (also Mono10, Mono14), RGB8 or BGR8, "
                             "BayerRG8 (GR, GB, BG; also 10, 12, 16 bits; testpattern and cameras only); aravis: set on "
                             "the camera (left out: the camera's own)")
          ->capture_default_str();

  auto* pacing = cmd->add_option_group("Pacing");
  pacing->add_option("--source", o->source, "Where frames come from")
      ->check(CLI::IsMember({"pattern", "files", "aravis", "opencv"}))
      ->capture_default_str();
  auto* rate = pacing->add_option("--rate-hz", o->rate_hz,
                                  "Frames per second on an absolute schedule; 0 = as fast as possible. aravis: sets the "
                                  "camera's AcquisitionFrameRate (left out: the camera's own); opencv device: asked of it")
                   ->check(CLI::Range(0.0, 1e6))
                   ->capture_default_str();
  pacing->add_option("--frames", o->frames, "Publish exactly this many frames, then exit; 0 = until SIGINT/SIGTERM")
      ->envname(kStageEnvFrames)
      ->capture_default_str();
  pacing->add_option("--wait-for-consumers", o->wait_for_consumers,
                     "Publish nothing until this many consumers are attached to the ring (framering run sets it "
                     "to the pipeline's consumers of this ring, so a bounded run loses no first frames)")
      ->envname(kStageEnvWaitForConsumers)
      ->capture_default_str();
  pacing->add_option("--wait-for-consumers-s", o->wait_for_consumers_s,
                     "How long to wait for them, in seconds, before producing anyway")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  pacing->add_option("--claim-timeout-ms", o->claim_timeout_ms,
                     "How long a frame waits for an every consumer to free the next slot before it is dropped (counted, "
                     "logged). Default: 1000 for the live sources (pattern, opencv, aravis: a camera cannot pause); "
                     "no limit for files (waiting loses nothing)")
      ->check(CLI::Range(0, 3'600'000));
  pacing->add_option("--stats-interval-s", o->stats_interval_s, "Seconds between info lines with rates and drops")
      ->check(CLI::Range(0.1, 86400.0))
      ->capture_default_str();

  auto* pattern = cmd->add_option_group("Pattern source");
  auto* width = pattern->add_option("--width", o->width, "Frame width in pixels (files: must match the source if given)")
                    ->check(CLI::Range(1, 65536))
                    ->capture_default_str();
  auto* height = pattern->add_option("--height", o->height, "Frame height in pixels (files: must match the source if given)")
                     ->check(CLI::Range(1, 65536))
                     ->capture_default_str();
  pattern->add_option("--scene", o->scene, "Synthetic scene")
      ->check(CLI::IsMember({"microscopy", "droplets", "testpattern", "grating"}))
      ->capture_default_str();
  pattern->add_option("--seed", o->seed, "Seed of the microscopy and droplets scenes (same seed, same frames)")
      ->capture_default_str();
  pattern->add_option("--grating-cycles-per-pixel", o->grating_cycles_per_pixel, "Grating frequency (period = 1/f pixels), 0 < f <= 0.5")
      ->capture_default_str();
  pattern->add_option("--grating-angle-deg", o->grating_angle_deg, "Grating direction in degrees; 0 = varies along x")
      ->capture_default_str();
  pattern->add_option("--grating-amplitude", o->grating_amplitude, "Grating amplitude in Mono16 counts around the mean 32768")
      ->capture_default_str();

  auto* files = cmd->add_option_group("Files source");
  files->add_option("--path", o->path,
                    "A multi-page TIFF (8/16-bit), a folder of images (sorted by name), a glob like 'dir/*.png' (quoted), "
                    "or a video (OpenCV VideoCapture)");
  files->add_flag("--loop,!--no-loop", o->loop, "Start over after the last frame (default: on; --no-loop: one pass, then exit 0)");
  files->add_flag("--scale-to-16bit,!--no-scale-to-16bit", o->scale_to_16bit,
                  "Stretch 8-bit sources to a 16-bit ring's range, Mono16: x257 so 255 -> 65535 (default: on; "
                  "--no-scale-to-16bit copies 0..255 as is)");

  auto* camera = cmd->add_option_group("Camera source (aravis: GenICam through Aravis)");
  camera->add_option("--camera", o->camera,
                     "Camera: an Aravis id from `framering cameras` (Aravis-Fake-GV01), a serial or an IP address; "
                     "empty: the first one found");
  auto* offset_x = camera->add_option("--offset-x", o->offset_x, "OffsetX of the region, pixels")->check(CLI::Range(0, 65535));
  auto* offset_y = camera->add_option("--offset-y", o->offset_y, "OffsetY of the region, pixels")->check(CLI::Range(0, 65535));
  auto* exposure = camera->add_option("--exposure-us", o->exposure_us, "ExposureTime in microseconds")
                       ->check(CLI::Range(0.001, 1e9));
  auto* gain = camera->add_option("--gain", o->gain, "Gain in the camera's unit (usually dB; GainRaw on older cameras)");
  camera->add_option("--trigger", o->trigger,
                     "off (free run), or a TriggerSource for FrameStart: Software (acquire triggers once per frame, "
                     "paced by --rate-hz), Line0, ...; left out: the camera's own");
  camera->add_option("--stream-buffers", o->stream_buffers, "Aravis buffers queued for the stream (frames in flight)")
      ->check(CLI::Range(2, 1024))
      ->capture_default_str();
  camera->add_flag("--lend,!--no-lend", o->lend,
                   "Lend ring slots to Aravis so that its stream thread writes each frame straight into its slot "
                   "(default: on; --no-lend: Aravis fills buffers of its own and acquire copies each frame into the "
                   "ring). Lending needs packed rows and at least 4 slots; it queues at most half the slots");
  camera->add_option("--packet-size-bytes", o->packet_size_bytes,
                     "GigE Vision packet size (GevSCPSPacketSize); 9000 needs jumbo frames on a real NIC (use 1500 "
                     "without); 0 = let Aravis negotiate")
      ->check(CLI::Range(0, 16404))
      ->capture_default_str();
  camera->add_flag("--packet-socket", o->packet_socket,
                   "Let Aravis receive through an AF_PACKET socket (root only, faster on real NICs; receives nothing on lo)");
  camera->add_flag("--wait-for-camera", o->wait_for_camera,
                   "At start, wait (retrying with backoff) for a camera that is not there yet, instead of exiting 2");
  camera->add_option("--camera-timeout-s", o->camera_timeout_s,
                     "Free run: after this long without a frame, check the camera; if it does not answer, it is an outage")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  camera->add_option("--reconnect-max-s", o->reconnect_max_s,
                     "Longest wait between reconnection attempts (the backoff starts at 0.1 s and doubles)")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();

  auto* capture = cmd->add_option_group("OpenCV source (opencv: V4L2 devices, streams, videos)");
  capture->add_option("--device", o->device, "V4L2 device index (0) or path (/dev/video0), a URL (rtsp://...) or a video file")
      ->capture_default_str();

  cmd->callback([o, &command, width, height, pixel_format, rate, offset_x, offset_y, exposure, gain] {
    o->width_given = width->count() > 0;
    o->height_given = height->count() > 0;
    o->pixel_format_given = pixel_format->count() > 0;
    o->rate_given = rate->count() > 0;
    o->offset_x_given = offset_x->count() > 0;
    o->offset_y_given = offset_y->count() > 0;
    o->exposure_given = exposure->count() > 0;
    o->gain_given = gain->count() > 0;
    command.action = [o] { return run_acquire(*o); };
    command.rings = [o] { return std::vector<RingUse>{{.ring = o->ring, .role = RingRole::Produces}}; };
  });
}

}  // namespace framering::acquire
