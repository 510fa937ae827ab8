// process_command.cpp: `framering process`: a consumer of one ring (newest by default, so a slow
// filter never slows acquisition; every for lossless processing) and the producer of another.
//
// Start-up order matters: open the input ring (waiting for it) to learn the frame shape, plan
// both FFT layouts and keep the faster (seconds with FFTW_MEASURE, minutes with FFTW_PATIENT,
// instant with wisdom: --make-wisdom makes it ahead), create the output ring, and only then
// attach as a consumer, so that an every consumer never gates the producer while it plans.
//
// Per frame:
//   read input ──► load (pixels -> float) ──► release input ──► r2c, mask, c2r ──► claim output
//   ──► store (float -> pixels, into the slot) ──► publish {input timestamp, input sequence}
// A Newest consumer can be lapped while it loads: release() then says so, and the frame is
// dropped before anything is published.
// Stop (SIGINT/SIGTERM): an every consumer first processes what was published when the signal
// came (the drain), as the recorder does, and after the death of the `framering run` that
// started it (PR_SET_PDEATHSIG stops every stage at once) also what the producer publishes until
// it has left; a newest one stops at once.
#include "framering/process/process_command.hpp"

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <filesystem>
#include <memory>
#include <optional>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "framering/common/clock.hpp"
#include "framering/common/error.hpp"
#include "framering/common/logging.hpp"
#include "framering/common/ring_reader.hpp"
#include "framering/common/ring_writer.hpp"
#include "framering/common/segment.hpp"
#include "framering/common/stage_control.hpp"
#include "framering/common/stage_kit.hpp"
#include "framering/common/stop_signal.hpp"
#include "framering/process/fourier_filter.hpp"
#include "framering/process/frame_step.hpp"

namespace framering::process {
namespace {

struct Totals {
  stage::RateReport report;        ///< frames filtered and published
  std::uint64_t torn = 0;          ///< input reads discarded because the producer lapped them
  std::uint64_t lost = 0;          ///< every: input frames reported in gaps
  std::uint64_t gaps = 0;
  std::uint64_t claim_waits = 0;   ///< output claims that timed out (a slow every consumer downstream)
  std::uint64_t published_before = 0;         ///< the output ring's sequence when this run began
  /// every, resumed: the input sequence of the output ring's newest frame (published by the
  /// killed run before it released that input frame); input up to it is released, not repeated.
  std::optional<std::uint64_t> published_through;
  std::uint64_t already_published = 0;        ///< input frames released without publishing for that reason
  std::uint64_t cpu_start_ns = process_cpu_ns();  ///< this process's CPU time when the frame loop began
  ring::ConsumerCounters at_last_line{};      ///< input counters at the last rate line
};

// --mode demosaic: no Fourier filter, so no cut-offs or offset.
bool demosaic_mode(const ProcessOptions& o) {
  if (o.mode != "demosaic") return false;
  if (o.low_cutoff_given || o.high_cutoff_given) throw ConfigError("--mode demosaic has no cut-offs");
  if (o.output_offset != 0.0) throw ConfigError("--mode demosaic takes no --offset");
  return true;
}

FilterSpec spec_of(const ProcessOptions& o) {
  if (o.mode == "demosaic") return {};
  const auto mode = parse_filter_mode(o.mode);
  if (!mode) {
    throw ConfigError(fmt::format(
        "--mode {} is not one of identity, lowpass, highpass, bandpass, bandstop, logpower, demosaic", o.mode));
  }
  // A cut-off the mode does not use is a mistake worth a clear word (lowpass --low-cutoff 0.1
  // would otherwise run with the default --high-cutoff).
  if (*mode == FilterMode::Lowpass && o.low_cutoff_given) {
    throw ConfigError("--mode lowpass uses --high-cutoff (the upper edge of its pass band), not --low-cutoff");
  }
  if (*mode == FilterMode::Highpass && o.high_cutoff_given) {
    throw ConfigError("--mode highpass uses --low-cutoff (the lower edge of its pass band), not --high-cutoff");
  }
  if ((*mode == FilterMode::Identity || *mode == FilterMode::LogPower) && (o.low_cutoff_given || o.high_cutoff_given)) {
    throw ConfigError(fmt::format("--mode {} has no cut-offs", o.mode));
  }
  if (*mode == FilterMode::LogPower && o.output_offset != 0.0) throw ConfigError("--mode logpower takes no --offset");
  FilterSpec spec{*mode, o.low_cutoff, o.high_cutoff, o.output_offset};
  spec.validate();
  return spec;
}

PlanOptions plan_options_of(const ProcessOptions& o) {
  PlanOptions p;
  const auto rigor = parse_planner_rigor(o.planner);
  if (!rigor) throw ConfigError(fmt::format("--planner {} is not one of estimate, measure, patient", o.planner));
  p.rigor = *rigor;
  p.threads = o.threads;
  const auto layout = parse_fft_layout(o.fft_layout);
  if (!layout) throw ConfigError(fmt::format("--fft-layout {} is not one of auto, in-place, out-of-place", o.fft_layout));
  p.layout = *layout;
  if (!o.no_wisdom) {
    if (!o.wisdom.empty()) {
      p.wisdom_path = o.wisdom;
    } else {
      p.wisdom_path = default_wisdom_path();
      if (!p.wisdom_path) spdlog::warn("neither XDG_CACHE_HOME nor HOME is set: FFTW wisdom will not be cached (--wisdom PATH)");
    }
  }
  return p;
}

void log_plan(const FourierFilter& filter, const PlanOptions& plan, const ProcessOptions& o) {
  const PlanReport& r = filter.report();
  const double planning_s = std::chrono::duration<double>(r.planning_time).count();
  const std::string wisdom = plan.wisdom_path ? plan.wisdom_path->string() : std::string{"(none)"};
  if (r.wisdom_used) {
    spdlog::info("plans for {}x{} ({}, {} thread(s)) came from wisdom {} in {:.3f} s: no planning", filter.shape().width,
                 filter.shape().height, o.planner, o.threads, wisdom, planning_s);
  } else {
    spdlog::info("planned {}x{} ({}, {} thread(s)) in {:.3f} s; wisdom {} {}", filter.shape().width,
                 filter.shape().height, o.planner, o.threads, planning_s, wisdom,
                 r.wisdom_written ? "updated" : (r.wisdom_read ? "read but had no plan for this" : "not saved"));
  }
  if (!r.wisdom_problem.empty()) spdlog::warn("{} (the next start will plan again)", r.wisdom_problem);
  const char* transforms = filter.spec().mode == FilterMode::LogPower ? "r2c" : "r2c+c2r";
  if (r.layout_timing) {
    const auto ms = [](std::chrono::nanoseconds t) { return std::chrono::duration<double, std::milli>(t).count(); };
    spdlog::info("FFT layout {}: {} took {:.3f} ms in-place (padded rows), {:.3f} ms out-of-place (fastest of {} each; "
                 "--fft-layout forces one)",
                 to_string(r.layout), transforms, ms(r.layout_timing->in_place), ms(r.layout_timing->out_of_place),
                 r.layout_timing->rounds);
  } else {
    spdlog::info("FFT layout {} (--fft-layout {}): not measured", to_string(r.layout), o.fft_layout);
  }
}

FrameShape shape_of(const ring::Segment& input, const ProcessOptions& o) {
  const ring::SegmentHeader& h = input.header();
  const FrameShape shape{h.width, h.height, static_cast<PixelFormat>(h.pixel_format)};
  spdlog::info("input ring '{}': {}x{} {}, stride {} B, {} slots", o.input_ring, h.width, h.height,
               to_string(shape.pixel_format), h.stride_bytes, h.slot_count);
  return shape;
}

// The output ring: the input's width, height and format; its own (packed) stride.
ring::RingWriter create_output(const ProcessOptions& o, const FrameShape& shape) {
  ring::RingGeometry geometry{
      .frame = {.width = shape.width, .height = shape.height, .pixel_format = shape.pixel_format},
      .slot_count = o.output_slots};
  geometry.validate();
  return ring::RingWriter::create_or_attach(o.common.instance, o.output_ring, geometry);
}

// Attaches to the input ring, which must still have the shape that was planned for.
ring::RingReader attach_to_input(const ProcessOptions& o, const ring::Segment& input) {
  ring::RingGeometry expected = input.geometry();
  expected.slot_count = 0;  // any
  return ring::RingReader::attach(o.common.instance, o.input_ring,
                                  {.name = o.name,
                                   .kind = o.consumer == "every" ? ring::ConsumerKind::Every : ring::ConsumerKind::Newest,
                                   .stall_timeout = stage::from_seconds(o.stall_timeout_s),
                                   .expected = expected,
                                   .wait = o.wait});
}

// One input frame through the filter into the output ring (see the file comment). Returns false
// when a stop came while the output ring was full: that frame is dropped, the loop ends.
bool process_one(ring::RingReader& reader, FrameStep& step, ring::RingWriter& writer, Totals& totals,
                 stage::Control& control, const std::string& output_ring) {
  auto frame = reader.read(stage::kPollPeriod);
  // Live changes, once a turn, after the wait: one that came meanwhile reaches this frame, and
  // with no frame coming they are still answered every kPollPeriod.
  control.poll();
  if (!frame) return true;
  if (frame->gap) {
    ++totals.gaps;
    totals.lost += frame->gap->count();
    spdlog::warn("lost input frames {}..{} ({} frames): this consumer was evicted or lapped", frame->gap->first,
                 frame->gap->last, frame->gap->count());
  }
  if (!step.load(frame->pixels, frame->stride_bytes)) {
    spdlog::critical("input frame {} is smaller than its ring's geometry {}x{}: broken invariant", frame->sequence,
                     step.input_shape().width, step.input_shape().height);
    std::abort();
  }
  const ring::FrameMetadata metadata{.timestamp_ns = frame->timestamp_ns,
                                     .camera_frame_id = frame->sequence,
                                     .settings_generation = std::max(frame->settings_generation, control.generation())};
  const bool every = reader.kind() == ring::ConsumerKind::Every;
  if (every && totals.published_through && frame->sequence <= *totals.published_through) {
    // Published before this process was killed between its publish and its release: the
    // output holds it already (camera_frame_id = this input sequence). Released, not repeated.
    (void)reader.release(*frame);
    ++totals.already_published;
    return true;
  }
  // A newest consumer releases at once (its slot may be lapped: a torn read is never
  // published). An every consumer releases only after publishing: a SIGKILL in between then
  // leaves the frame to be read again and recognised above, never lost.
  if (!(every ? reader.is_intact(*frame) : reader.release(*frame))) {
    if (every) (void)reader.release(*frame);  // counted torn and lost (only after an eviction)
    ++totals.torn;  // the producer overwrote it while we loaded it: never published
    return true;
  }
  step.transform();
  // A stop while the output ring is full (a stalled every consumer downstream) drops this
  // frame; otherwise every intact input frame read is published.
  const auto slot = stage::claim(writer, stage::kNoTimeout, &totals.claim_waits);
  if (!slot) return false;
  (void)step.store(slot->pixels, writer.segment().header().stride_bytes);  // cannot fail: the output ring's shape
  writer.publish(metadata);
  control.took_effect(slot->sequence, output_ring);
  if (every) (void)reader.release(*frame);  // intact: checked above, and the cursor held it since
  totals.report.count();
  return true;
}

void log_start(const ProcessOptions& o, const FilterSpec& spec, const FrameStep& step, const ring::RingWriter& writer) {
  spdlog::info("{} consumer '{}' of '{}' -> producer of '{}' ({} slots{}), mode {}{}: {}", o.consumer, o.name,
               o.input_ring, o.output_ring, o.output_slots, writer.reattached() ? ", re-attached" : "", o.mode,
               o.mode == "demosaic" || spec.mode == FilterMode::Identity || spec.mode == FilterMode::LogPower
                   ? std::string{}
                   : fmt::format(" (low cut-off {}, high cut-off {} cycles/pixel)", spec.low_cutoff, spec.high_cutoff),
               step.describe());
}

// The rate line's part after the rates: input frames skipped, torn and lost since the last line.
std::string input_losses(const ring::ConsumerCounters& now, Totals& t) {
  const std::string text = fmt::format("in it: input skipped {}, torn {}, lost {}",
                                       now.frames_skipped - t.at_last_line.frames_skipped,
                                       now.frames_torn - t.at_last_line.frames_torn,
                                       now.frames_lost - t.at_last_line.frames_lost);
  t.at_last_line = now;
  return text;
}

// Logs the summary line and prints the JSON summary (for the supervisor and tests); returns the
// exit code: 3 when an every consumer lost input frames, else 0.
int summarise(const Totals& t, const ring::RingReader& reader, const ring::RingWriter& writer, const FrameStep& step) {
  const ring::ConsumerCounters c = reader.counters();
  const std::uint64_t published = writer.next_sequence() - t.published_before;
  const stage::Throughput run = t.report.total();
  spdlog::info("processed {} frames in {:.1f} s ({:.1f} frames/s): input read {}, skipped {}, torn {} (discarded), "
               "lost {} in {} gaps; output published {}, waited on a full output ring {} times",
               run.frames, run.seconds, run.frames_per_s(), c.frames_read, c.frames_skipped, c.frames_torn, t.lost,
               t.gaps, published, t.claim_waits);
  if (stop_requested()) spdlog::debug("stopped by {}", stage::end_reason(""));
  stage::print_summary({{"processed", run.frames},  {"published", published},     {"input_read", c.frames_read},
                        {"input_skipped", c.frames_skipped}, {"input_torn", c.frames_torn}, {"input_lost", t.lost},
                        {"input_gaps", t.gaps},      {"output_claim_waits", t.claim_waits}, {"seconds", run.seconds},
                        {"frames_per_s", run.frames_per_s()}, {"fft_layout", step.fourier_report() ? std::string(to_string(step.fourier_report()->layout)) : "none"},
                        {"cpu_s", static_cast<double>(process_cpu_ns() - t.cpu_start_ns) / 1e9}});
  if (reader.kind() == ring::ConsumerKind::Every && (t.lost > 0 || c.frames_lost > 0)) {
    spdlog::error("lost {} input frames: exit code 3", std::max(t.lost, c.frames_lost));
    return 3;
  }
  return 0;
}

// The live parameters (PATCH /api/v1/stages/{name}/params): the filter's mode among the filters,
// its cut-offs and offset. A demosaic has none to change; logpower only shows its mode (its plans
// differ from the filters').
std::vector<stage::ParamSpec> live_params(const ProcessOptions& o, const FilterSpec& spec, const FrameShape& shape) {
  using Type = stage::ParamSpec::Type;
  const bool filter = o.mode != "demosaic" && spec.mode != FilterMode::LogPower;
  const double top = std::ldexp(1.0, static_cast<int>(significant_bits(shape.pixel_format))) - 1;
  return {
      {.name = "mode", .type = Type::Choice, .value = o.mode,
       .choices = filter ? std::vector<std::string>{"identity", "lowpass", "highpass", "bandpass", "bandstop"}
                         : std::vector<std::string>{o.mode},
       .live = filter, .doc = "the filter; to or from logpower or demosaic needs a restart (other plans)"},
      {.name = "low_cutoff", .type = Type::Number, .value = spec.low_cutoff, .min = 0.0001, .max = 0.75,
       .units = "cycles/pixel", .live = filter, .doc = "highpass, bandpass, bandstop: where the gain is 1/2 (lower edge)"},
      {.name = "high_cutoff", .type = Type::Number, .value = spec.high_cutoff, .min = 0.0001, .max = 0.75,
       .units = "cycles/pixel", .live = filter, .doc = "lowpass, bandpass, bandstop: where the gain is 1/2 (upper edge)"},
      {.name = "offset", .type = Type::Number, .value = spec.output_offset, .min = -top, .max = top, .units = "counts",
       .live = filter, .doc = "added to every output pixel before rounding (keeps a signed result visible)"},
  };
}

// Applies checked changes to the filter, between frames; refuses a combination the filter does
// not take (a band with its low cut-off above its high one).
std::optional<stage::Refusal> apply_live(const nlohmann::json& changes, FilterSpec& spec, FrameStep& step) {
  FilterSpec next = spec;
  if (changes.contains("mode")) next.mode = *parse_filter_mode(changes["mode"].get<std::string>());
  if (changes.contains("low_cutoff")) next.low_cutoff = changes["low_cutoff"].get<double>();
  if (changes.contains("high_cutoff")) next.high_cutoff = changes["high_cutoff"].get<double>();
  if (changes.contains("offset")) next.output_offset = changes["offset"].get<double>();
  try {
    step.set_spec(next);
  } catch (const ConfigError& e) {
    std::string why = e.what();  // FilterSpec names its command-line options: name the parameters
    for (const auto& [option, param] : {std::pair{"--low-cutoff", "low_cutoff"}, std::pair{"--high-cutoff", "high_cutoff"}}) {
      for (auto at = why.find(option); at != std::string::npos; at = why.find(option)) why.replace(at, std::strlen(option), param);
    }
    return stage::Refusal{422, changes.begin().key(), "process: " + why};
  }
  spec = next;
  spdlog::info("filter now {} (low cut-off {}, high cut-off {} cycles/pixel, offset {})", to_string(spec.mode),
               spec.low_cutoff, spec.high_cutoff, spec.output_offset);
  return std::nullopt;
}

}  // namespace

int run_make_wisdom(const ProcessOptions& o) {
  setup_logging("process", o.common.log_level);
  if (o.no_wisdom) throw ConfigError("--make-wisdom writes a wisdom file: drop --no-wisdom");
  const auto rigor = parse_planner_rigor(o.planner_given ? o.planner : "patient");
  if (!rigor) throw ConfigError(fmt::format("--planner {} is not one of estimate, measure, patient", o.planner));
  const auto path = o.wisdom.empty() ? default_wisdom_path() : std::optional<std::filesystem::path>(o.wisdom);
  if (!path) throw ConfigError("neither XDG_CACHE_HOME nor HOME is set: name the wisdom file with --wisdom PATH");
  make_wisdom(o.width, o.height, *rigor, o.threads, *path, [](const std::string& line) { spdlog::info("{}", line); });
  return 0;
}

int run_process(const ProcessOptions& o) {
  stage::begin("process", o.common, {o.input_ring, o.output_ring});
  const FilterSpec spec = spec_of(o);
  const PlanOptions plan = plan_options_of(o);

  // 1. The input's shape.
  const auto input = stage::open_input(
      o.common.instance, o.input_ring,
      {.timeout = stage::from_seconds(o.wait_for_input_s), .option = "--wait-for-input-s", .role = "input ring"});
  if (!input) return 0;
  const FrameShape shape = shape_of(*input, o);

  // 2. Plans, once.
  FrameStep step = demosaic_mode(o) ? FrameStep::demosaic(shape) : FrameStep::filter(shape, spec, plan);
  if (const FourierFilter* filter = step.fourier_filter()) log_plan(*filter, plan, o);
  if (stop_requested()) {
    spdlog::info("stopped while planning; nothing processed");
    return 0;
  }

  // 3. The output ring.
  auto writer = create_output(o, step.output_shape());
  if (!stage::wait_for_consumers(writer, o.wait_for_consumers, stage::from_seconds(o.wait_for_consumers_s))) return 0;

  // 4. Attach last (see the file comment), then filter until stopped or --frames are published.
  FilterSpec live_spec = spec;
  stage::Control control("process", live_params(o, spec, shape),
                         [&](const nlohmann::json& changes) { return apply_live(changes, live_spec, step); });
  auto reader = attach_to_input(o, *input);
  log_start(o, spec, step, writer);
  Totals totals{.report = stage::RateReport("processed", stage::from_seconds(o.report_interval_s)),
                .published_before = writer.next_sequence()};
  if (reader.kind() == ring::ConsumerKind::Every && reader.resumed()) {
    // The input frame the last output frame came from: a restart after a kill between publish
    // and release reads it again and must not publish it twice.
    if (const auto last = writer.last_published()) {
      totals.published_through = last->camera_frame_id;
      if (last->camera_frame_id >= reader.cursor()) {
        spdlog::info("input frames {}..{} were published before the last run was killed (output frame {} came from "
                     "input {}): released, not published again",
                     reader.cursor(), last->camera_frame_id, writer.next_sequence() - 1, last->camera_frame_id);
      }
    }
  }
  // An every consumer drains at a stop (stage::Drain), as the recorder does: what it leaves would
  // be skipped without a word by the next run's process, which attaches a fresh entry.
  stage::Drain drain("processing");
  const bool every = reader.kind() == ring::ConsumerKind::Every;
  while (o.frames == 0 || totals.report.frames() < o.frames) {
    if (every ? drain.finished(reader) : stop_requested()) break;
    totals.report.log_if_due([&] { return input_losses(reader.counters(), totals); });
    if (!process_one(reader, step, writer, totals, control, o.output_ring)) break;
  }
  return summarise(totals, reader, writer, step);
}

void add_process_subcommand(CLI::App& app, StageCommand& command) {
  auto o = std::make_shared<ProcessOptions>();
  CLI::App* cmd = app.add_subcommand("process", "Filter frames in the Fourier plane (FFTW) from one ring into another");
  cmd->footer(
      "Reads --input-ring, writes --output-ring (same width, height and pixel format). Each frame:\n"
      "pixels -> float, r2c, multiply by a Gaussian mask in the Fourier plane, c2r, / (width*height),\n"
      "rounded and clamped to the format's range. Cut-offs are radial frequencies in cycles/pixel\n"
      "(0.5 = Nyquist along an axis), each where the mask's gain is 1/2:\n"
      "  lowpass  G = 2^-(f/fh)^2          highpass G = 1 - 2^-(f/fl)^2\n"
      "  bandpass G = 2^-((f-fc)/hw)^2     bandstop G = 1 - 2^-((f-fc)/hw)^2\n"
      "  with fl = --low-cutoff, fh = --high-cutoff, fc = (fl+fh)/2, hw = (fh-fl)/2.\n"
      "logpower shows log(1+|F|^2), zero frequency centred, stretched to the full range per frame.\n"
      "Colour (RGB8, BGR8): the filter runs on each channel on its own; the output keeps the format.\n"
      "Bayer mosaics: only --mode demosaic, OpenCV's bilinear demosaic into an RGB8 output ring (10-16 bit\n"
      "mosaics scaled to 8 bits); a mosaic is never Fourier-filtered (its neighbours are different colours).\n"
      "Output frames carry the input's timestamp and, as camera_frame_id, the input's ring sequence.\n"
      "SIGINT/SIGTERM: an every consumer first processes the frames already in the input ring.\n"
      "FFT layout: FFTW's in-place transform on rows padded to 2*(width/2+1) floats, or out-of-place;\n"
      "--fft-layout auto plans both, times a few executions of each and keeps the faster (logged).\n"
      "Wisdom: --make-wisdom --width W --height H [--threads N] plans W x H with FFTW_PATIENT (minutes\n"
      "at 2 MP; plans ~10-25% faster than measure) in both layouts and saves it where the stage reads\n"
      "wisdom; a later start with that shape and --threads then plans nothing (its log says so).\n"
      "More in docs/process.md.\n"
      "Prints one JSON summary line on stdout at exit. Exit codes: 0 ok, 2 could not start,\n"
      "3 an every consumer lost frames.\n"
      "Example: framering process --mode bandpass --low-cutoff 0.05 --high-cutoff 0.2 --threads 2\n"
      "Example: framering process --make-wisdom --width 1920 --height 1080 --threads 2\n"
      "Example: framering process --mode demosaic --input-ring bayer --output-ring rgb");
  add_common_options(*cmd, o->common);
  cmd->add_option("--input-ring", o->input_ring, "Ring to read")->capture_default_str();
  cmd->add_option("--output-ring", o->output_ring, "Ring to create (or re-attach) and write")->capture_default_str();
  cmd->add_option("--output-slots", o->output_slots, "Slots of the output ring")
      ->check(CLI::Range(2, 65536))
      ->capture_default_str();
  cmd->add_option("--name", o->name, "Consumer name on the input ring (framering run: the stage's name)")
      ->envname(kStageEnvName)
      ->capture_default_str();
  add_wait_option(*cmd, o->wait);
  cmd->add_option("--consumer", o->consumer,
                  "newest: the newest frame, never slows acquisition (skips frames when slow); every: every frame, "
                  "in order (gates the producer)")
      ->check(CLI::IsMember({"newest", "every"}))
      ->capture_default_str();
  cmd->add_option("--mode", o->mode, "identity, lowpass, highpass, bandpass, bandstop, logpower or demosaic")
      ->check(CLI::IsMember({"identity", "lowpass", "highpass", "bandpass", "bandstop", "logpower", "demosaic"}))
      ->capture_default_str();
  CLI::Option* low = cmd->add_option("--low-cutoff", o->low_cutoff,
                                     "Lower edge of the pass (stop) band in cycles/pixel, gain 1/2 there: "
                                     "highpass, bandpass, bandstop")
                         ->capture_default_str();
  CLI::Option* high = cmd->add_option("--high-cutoff", o->high_cutoff,
                                      "Upper edge of the pass (stop) band in cycles/pixel, gain 1/2 there: "
                                      "lowpass, bandpass, bandstop")
                          ->capture_default_str();
  cmd->add_option("--offset", o->output_offset,
                  "Counts added to every output pixel after filtering, before rounding and clamping (e.g. 32768 "
                  "to see the negative half of a highpass or bandpass result)")
      ->capture_default_str();
  cmd->add_option("--threads", o->threads, "FFTW threads per transform")->check(CLI::Range(1, 256))->capture_default_str();
  CLI::Option* planner =
      cmd->add_option("--planner", o->planner,
                      "FFTW planner: estimate (instant, slower plans), measure (seconds), patient (minutes, plans "
                      "~10-25% faster); wisdom makes later starts instant. --make-wisdom: patient unless given")
          ->check(CLI::IsMember({"estimate", "measure", "patient"}))
          ->capture_default_str();
  cmd->add_option("--fft-layout", o->fft_layout,
                  "auto: plan FFTW's in-place (rows padded to 2*(width/2+1) floats) and out-of-place transforms, "
                  "time a few executions of each and keep the faster; in-place or out-of-place: only that one")
      ->check(CLI::IsMember({"auto", "in-place", "out-of-place"}))
      ->capture_default_str();
  CLI::Option* make_wisdom_flag = cmd->add_flag(
      "--make-wisdom", o->make_wisdom,
      "Make FFTW wisdom for --width x --height frames (both layouts, --threads, patient planner: minutes at 2 MP) "
      "into the wisdom file, then exit; touches no ring");
  CLI::Option* width = cmd->add_option("--width", o->width, "--make-wisdom: frame width in pixels")
                           ->check(CLI::Range(1, 65536));
  CLI::Option* height = cmd->add_option("--height", o->height, "--make-wisdom: frame height in pixels")
                            ->check(CLI::Range(1, 65536));
  make_wisdom_flag->needs(width)->needs(height);
  width->needs(make_wisdom_flag);  // the stage itself takes its shape from the input ring
  height->needs(make_wisdom_flag);
  cmd->add_option("--wisdom", o->wisdom,
                  "FFTW wisdom file, read before planning and rewritten after it [default: "
                  "$XDG_CACHE_HOME/framering/fftw-wisdom-<hostname>.dat, or ~/.cache/framering/... without it]");
  cmd->add_flag("--no-wisdom", o->no_wisdom, "Neither read nor write a wisdom file");
  cmd->add_option("--frames", o->frames, "Publish this many frames, then exit; 0 = until SIGINT/SIGTERM")
      ->capture_default_str();
  cmd->add_option("--wait-for-consumers", o->wait_for_consumers,
                  "Publish nothing until this many consumers are attached to the output ring (framering run "
                  "sets it to the pipeline's consumers of that ring)")
      ->envname(kStageEnvWaitForConsumers)
      ->capture_default_str();
  cmd->add_option("--wait-for-consumers-s", o->wait_for_consumers_s,
                  "How long to wait for them, in seconds, before producing anyway")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  cmd->add_option("--wait-for-input-s", o->wait_for_input_s, "How long to wait for the input ring to appear, in seconds")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  cmd->add_option("--stall-timeout-s", o->stall_timeout_s,
                  "every: the producer evicts this consumer (a gap, exit code 3) after it makes no progress for this "
                  "long; 0 = never")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  cmd->add_option("--report-interval-s", o->report_interval_s, "Seconds between rate reports in the log; 0 = none")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  cmd->callback([o, low, high, planner, &command] {
    o->low_cutoff_given = low->count() > 0;
    o->high_cutoff_given = high->count() > 0;
    o->planner_given = planner->count() > 0;
    if (o->make_wisdom) {
      command.action = [o] { return run_make_wisdom(*o); };
      return;
    }
    command.action = [o] { return run_process(*o); };
    command.rings = [o] {
      return std::vector<RingUse>{
          {.ring = o->input_ring, .role = o->consumer == "every" ? RingRole::ConsumesEvery : RingRole::ConsumesNewest},
          {.ring = o->output_ring, .role = RingRole::Produces}};
    };
  });
}

}  // namespace framering::process
