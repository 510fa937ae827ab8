// record_command.cpp: `framering record`: an every consumer (it gates the producer, so a slow
// disk slows acquisition instead of losing frames) that appends each frame to a recording.
//
// Per frame:  read (in place) ──► copy into a huge-page staging buffer ──► pwritev(IFD block,
//             pixels) with O_DIRECT ──► link the previous page ──► index row ──► release (the
//             producer may now reuse the slot)
// A frame is released only once it is on disk and indexed, so a recorder killed at any point
// resumes at a cursor whose frames are all either recorded or still in the ring.
// Two frames in flight: while frame n's page is linked, indexed and released here, frame n+1 is
// already copied and its pixels go to disk on the part writer's I/O thread
// (TiffStackWriter::submit), so the disk never waits for the copy, the link write, the index
// row or the ring (docs/design-decisions.md, "Overlapped writes"). Frame n+1 is read ahead
// (RingReader::read_ahead) only when it is already published: the recorder never waits on the
// ring while it holds a frame.
// Stop (SIGINT/SIGTERM): read on until the cursor reaches what was published when the signal
// came (the drain), close the part, write the manifest, exit. A stop from the death of the
// `framering run` that started it came to the producer at the same moment (PR_SET_PDEATHSIG),
// not before: the drain then also takes what the producer publishes until it has left.
#include "framering/record/record_command.hpp"

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <optional>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "framering/common/error.hpp"
#include "framering/common/ring_reader.hpp"
#include "framering/common/stage_kit.hpp"
#include "framering/common/stop_signal.hpp"
#include "framering/record/recording.hpp"

namespace framering::record {
namespace {

ring::ReaderOptions reader_options(const RecordOptions& o) {
  return {.name = o.name,
          .kind = ring::ConsumerKind::Every,
          .stall_timeout = stage::from_seconds(o.stall_timeout_s),
          .dead_timeout = stage::from_seconds(o.dead_timeout_s),
          .wait = o.wait};
}

RecordingSettings settings_of(const RecordOptions& o, const ring::SegmentHeader& h) {
  RecordingSettings settings;
  settings.dest = o.dest;
  settings.name = o.recording;
  settings.geometry = PageGeometry{
      .frame = {.width = h.width, .height = h.height, .pixel_format = static_cast<PixelFormat>(h.pixel_format)},
      .bigtiff = o.bigtiff};
  settings.max_file_bytes = o.max_file_bytes;
  settings.max_file_frames = o.max_file_frames;
  settings.direct_io = !o.no_direct_io;
  settings.staging = o.write_from_slots ? StagingPolicy::InPlace : StagingPolicy::HugePagesWhenAvailable;
  return settings;
}

/// What the recording loop did.
struct Outcome {
  stage::RateReport recorded;  ///< frames appended (and their page bytes)
  std::uint64_t duplicates = 0;
  std::uint64_t torn = 0;
  std::optional<RecordFailure> failure;
  nlohmann::json stop = {{"reason", "frames"}};
  bool fail_on_drop = false;    ///< --fail-on-drop
  bool ended_on_drop = false;   ///< it did: the frame after the first loss is the last one recorded
};

// The frames the recorder holds (read, not yet released), oldest first: the ones in flight in
// the recording, in submit order. At most TiffStackWriter::kPagesInFlight.
class HeldFrames {
 public:
  [[nodiscard]] bool empty() const noexcept { return count_ == 0; }
  [[nodiscard]] std::size_t size() const noexcept { return count_; }
  [[nodiscard]] const ring::FrameView& newest() const noexcept { return frames_[count_ - 1]; }
  void push(const ring::FrameView& frame) noexcept { frames_[count_++] = frame; }

  // Releases the oldest frames until only `keep` are held (the ones still in flight), counting
  // those the producer overwrote meanwhile (possible only after an eviction).
  void release_all_but(std::size_t keep, ring::RingReader& reader, Outcome& out) {
    while (count_ > keep) {
      const ring::FrameView& frame = frames_[0];
      if (!reader.release(frame)) {
        ++out.torn;
        spdlog::error("frame {} was overwritten while it was written (this recorder was evicted meanwhile): its page "
                      "in the recording is damaged",
                      frame.sequence);
      }
      for (std::size_t k = 1; k < count_; ++k) frames_[k - 1] = frames_[k];
      --count_;
    }
  }

 private:
  ring::FrameView frames_[TiffStackWriter::kPagesInFlight];
  std::size_t count_ = 0;
};

// The next frame: at the cursor (waiting up to kPollPeriod) when none is held, else the one
// after the newest held, only if it is already published (a gap or an overwritten frame there
// is left for read() at the cursor to report, once the held frames are released).
std::optional<ring::FrameView> next_frame(ring::RingReader& reader, const HeldFrames& held) {
  if (held.empty()) {
    auto frame = reader.read(stage::kPollPeriod);
    if (!frame) return std::nullopt;
    return *frame;
  }
  return reader.read_ahead(held.newest().sequence + 1, std::chrono::nanoseconds{0});
}

// Completes every frame in flight and releases every held frame. Returns false when the
// recording failed (every held frame is released all the same: the recorder detaches next).
bool complete_all(ring::RingReader& reader, Recording& recording, HeldFrames& held, std::uint64_t page_bytes,
                  Outcome& out) {
  while (recording.in_flight() > 0) {
    if (auto completed = recording.complete(); !completed) {
      out.failure = completed.error();
      break;
    }
    out.recorded.count(1, page_bytes);
    held.release_all_but(recording.in_flight(), reader, out);
  }
  held.release_all_but(0, reader, out);
  return !out.failure;
}

// Reads one frame (when one comes) and submits it to the recording; then, when two frames are
// in flight or no frame was ready, completes the oldest (it is linked and indexed while the
// newer one's pixels go to disk) and releases it. Returns false when the recording failed.
bool record_step(ring::RingReader& reader, Recording& recording, HeldFrames& held, std::uint64_t page_bytes,
                 Outcome& out) {
  std::optional<ring::FrameView> frame = next_frame(reader, held);
  if (frame) {
    if (frame->gap) {
      spdlog::warn("lost frames {}..{} ({} frames): this recorder was evicted (too slow or away too long)",
                   frame->gap->first, frame->gap->last, frame->gap->count());
    }
    if (frame->source_frames_lost > 0) {
      spdlog::warn("the source lost {} frame(s) just before sequence {} (camera frame id {})",
                   frame->source_frames_lost, frame->sequence, frame->camera_frame_id);
    }
    // --fail-on-drop: this frame is still recorded, so that the recording's index (and its
    // manifest's gaps and verdict) shows the loss; then the recording ends.
    if (out.fail_on_drop && !out.ended_on_drop && (frame->gap || frame->source_frames_lost > 0)) {
      out.ended_on_drop = true;
      out.stop = {{"reason", "drop"},
                  {"message", frame->gap ? fmt::format("--fail-on-drop: frames {}..{} were lost in the ring (this "
                                                       "recorder was evicted)", frame->gap->first, frame->gap->last)
                                         : fmt::format("--fail-on-drop: the source lost {} frame(s) before sequence {}",
                                                       frame->source_frames_lost, frame->sequence)}};
      spdlog::error("{}: ending the recording", out.stop["message"].get<std::string>());
    }
    const IndexRow row{0, 0, frame->sequence, frame->timestamp_ns, frame->camera_frame_id, frame->source_frames_lost,
                       frame->settings_generation};
    const std::size_t before = recording.in_flight();
    auto submitted = recording.submit(row, frame->pixels.data(), frame->stride_bytes,
                                      reader.segment().header().slot_stride_bytes);
    if (!submitted) {
      held.push(*frame);
      held.release_all_but(0, reader, out);
      out.failure = submitted.error();
      return false;
    }
    if (*submitted == AppendOutcome::Duplicate) {
      // Only ever at the cursor, with nothing held: a frame read ahead is newer than any submitted.
      ++out.duplicates;
      (void)reader.release(*frame);
      return true;
    }
    // Starting a new part completes (indexes) every frame in flight before this one.
    const std::size_t still = recording.in_flight() - 1;
    out.recorded.count(before - still, page_bytes);
    held.release_all_but(still, reader, out);
    held.push(*frame);
    if (held.size() < TiffStackWriter::kPagesInFlight) return true;  // read ahead before waiting
  }
  if (recording.in_flight() == 0) return true;
  auto completed = recording.complete();
  if (!completed) {
    held.release_all_but(0, reader, out);
    out.failure = completed.error();
    return false;
  }
  out.recorded.count(1, page_bytes);
  held.release_all_but(recording.in_flight(), reader, out);
  return true;
}

// Records until --frames, a failure, or, after SIGINT/SIGTERM, the drain (stage::Drain: what was
// published when the signal came, and after the supervisor's death what the producer publishes
// until it has left). Ends with nothing in flight and nothing held.
void record_frames(const RecordOptions& o, ring::RingReader& reader, Recording& recording, std::uint64_t page_bytes,
                   Outcome& out) {
  stage::Drain drain("recording");
  HeldFrames held;
  for (;;) {
    if (!drain.draining() && stop_requested()) out.stop = {{"reason", fmt::format("signal {}", stage::end_reason(""))}};
    const bool enough = o.frames > 0 && out.recorded.frames() + recording.in_flight() >= o.frames;
    if (drain.finished(reader) || enough || out.ended_on_drop) {
      (void)complete_all(reader, recording, held, page_bytes, out);  // frames in flight past the drain's end too
      return;
    }
    out.recorded.log_if_due([&] {
      return fmt::format("{} frames so far, {} lost", out.recorded.frames(), recording.tally().ring_lost());
    });
    if (!record_step(reader, recording, held, page_bytes, out)) return;
  }
}

// Logs the summary line and returns the JSON summary (see the footer of `framering record --help`).
nlohmann::json summarise(const Recording& recording, const nlohmann::json& manifest, const Outcome& out,
                         std::uint64_t lost, int exit_code) {
  const RecordingTally& t = recording.tally();
  const stage::Throughput run = out.recorded.total();
  const double bytes_per_s = run.seconds > 0 ? static_cast<double>(recording.bytes_written()) / run.seconds : 0.0;
  nlohmann::json summary = {{"recording", recording.folder().string()},
                            {"recorded", run.frames},
                            {"frames_recorded_total", t.frames()},
                            {"lost", lost},
                            {"torn", out.torn},
                            {"duplicates_skipped", out.duplicates},
                            {"gaps", manifest.value("gaps", nlohmann::json::array()).size()},
                            {"source_frames_lost", t.source_lost()},
                            {"complete", t.complete() && out.torn == 0},
                            {"files", t.parts().size()},
                            {"resumed", recording.resumed()},
                            {"bytes", recording.bytes_written()},
                            {"seconds", run.seconds},
                            {"frames_per_s", run.frames_per_s()},
                            {"bytes_per_s", bytes_per_s},
                            {"stop", out.stop},
                            {"exit_code", exit_code}};
  if (manifest.contains("manifest_error")) summary["manifest_error"] = manifest["manifest_error"];
  spdlog::info("recorded {} frames in {:.1f} s ({:.1f} frames/s, {:.0f} MB/s) into {}: {} lost in the ring, {} lost "
               "by the source, complete: {}",
               run.frames, run.seconds, run.frames_per_s(), bytes_per_s / 1e6, recording.folder().string(), lost,
               t.source_lost(), t.complete() && out.torn == 0 ? "yes" : "NO");
  return summary;
}

}  // namespace

int run_record(const RecordOptions& o) {
  stage::begin("record", o.common, {o.ring});
  // RLIMIT_FSIZE must end in EFBIG (a clear error, a valid file), not in SIGXFSZ's core dump.
  ::signal(SIGXFSZ, SIG_IGN);
  validate_destination(o.dest, o.recording);
  std::optional<ring::RingReader> reader =
      stage::attach_input(o.common.instance, o.ring, reader_options(o),
                          {.timeout = stage::from_seconds(o.wait_for_ring_s), .option = "--wait-for-ring-s"});
  if (!reader) return 0;
  stage::require_pixel_format(reader->segment(), "record",
                              reader->segment().geometry().frame.pixel_format != PixelFormat::BGR8,
                              "every format but BGR8: a TIFF's RGB pages are R, G, B, and no TIFF reader knows B, G, R "
                              "(acquire into an RGB8 ring instead)");
  const ring::SegmentHeader& h = reader->segment().header();
  const RecordingSettings settings = settings_of(o, h);
  Recording recording(settings, {o.common.instance, o.ring, o.name, h.segment_id}, reader->cursor());
  spdlog::info("every consumer '{}' of ring '{}' ({}x{} {}, {} slots){}", o.name, o.ring, h.width, h.height,
               to_string(settings.geometry.frame.pixel_format), h.slot_count,
               reader->resumed() ? ", resumed at its cursor" : "");

  Outcome out{.recorded = stage::RateReport("recorded", stage::from_seconds(o.report_interval_s)),
              .fail_on_drop = o.fail_on_drop};
  record_frames(o, *reader, recording, settings.geometry.page_bytes(), out);

  const ring::ConsumerCounters counters = reader->counters();
  if (out.failure) {
    spdlog::error("{}", out.failure->message);
    out.stop = {{"reason", "error"}, {"message", out.failure->message}, {"errno", out.failure->error}};
  }
  reader.reset();  // detach first: the producer must never wait on a recorder that is closing files
  if (stop_requested() && !out.failure) spdlog::info("drained; closing the recording");
  const nlohmann::json manifest = recording.close(out.stop);
  const std::uint64_t lost = std::max(recording.tally().ring_lost(), counters.frames_lost);
  const int exit_code = out.failure ? 2 : (lost > 0 || out.torn > 0 || out.ended_on_drop) ? 3 : 0;
  stage::print_summary(summarise(recording, manifest, out, lost, exit_code));
  if (exit_code == 3) spdlog::error("lost {} frames: exit code 3", lost + out.torn);
  return exit_code;
}

void add_record_subcommand(CLI::App& app, StageCommand& command) {
  auto o = std::make_shared<RecordOptions>();
  CLI::App* cmd = app.add_subcommand("record", "Record every frame of a ring to multi-page TIFF files, losslessly");
  cmd->footer(
      "An every consumer: the producer waits for it, so nothing is lost while it keeps up on average;\n"
      "if it stalls past --stall-timeout-s (or dies and is not back within --dead-timeout-s) it is\n"
      "evicted and the exact gap is written down.\n"
      "Files: <dest>/<UTC yyyymmddThhmmssZ>_<ring>/ (or <dest>/<--recording>/) holds\n"
      "  part-000001.tif ...  one page per frame, uint8 (Mono8) or uint16 (other formats), exact shape;\n"
      "                       classic TIFF (ImageJ opens it) rotated before 4 GiB, or --bigtiff\n"
      "  index.csv            part,page,sequence,timestamp_ns,camera_frame_id,source_frames_lost,\n"
      "                       settings_generation (of the live settings that made the frame)\n"
      "  recording.json       ring, geometry, first sequence wanted\n"
      "  manifest.json        at close: files, first/last sequence, frames recorded, gaps [first,last]\n"
      "                       with their cause (evicted, source_drop), complete = nothing lost in the ring\n"
      "SIGINT/SIGTERM: drains every frame already in the ring, closes the files, then exits.\n"
      "--fail-on-drop: the first lost frame ends the recording (stop reason \"drop\", exit code 3).\n"
      "Killed (SIGKILL): the files stay readable up to the last complete frame; started again with the\n"
      "same --name and --dest it resumes the open recording at its cursor, in a new part.\n"
      "Writes with O_DIRECT, each frame copied once into a huge-page buffer (--write-from-slots: none),\n"
      "two frames in flight (buffered where the file system refuses O_DIRECT).\n"
      "Prints one JSON summary line on stdout. Exit codes: 0 nothing lost, 2 could not start or could\n"
      "not write (full disk, unwritable folder: the files stay valid, the ring is released), 3 frames lost.\n"
      "Check a recording with `framering inspect DIR`.\n"
      "Example: framering record --ring raw --dest /data/recordings --max-file-frames 1000");
  add_common_options(*cmd, o->common);
  cmd->add_option("--ring", o->ring, "Ring to record")->capture_default_str();
  cmd->add_option("--name", o->name,
                  "Consumer name on the ring; a restart with the same name resumes (framering run: the stage's name)")
      ->envname(kStageEnvName)
      ->capture_default_str();
  add_wait_option(*cmd, o->wait);
  cmd->add_option("-d,--dest", o->dest, "Folder that holds recordings (created if missing)")->required();
  cmd->add_option("--recording", o->recording,
                  "Name of the recording folder inside --dest (resumed if open); default: a new "
                  "<UTC time>_<ring>, or the open one this consumer left after a crash");
  cmd->add_flag("--bigtiff", o->bigtiff, "Write BigTIFF (files over 4 GiB; tifffile and Fiji read it, ImageJ 1.x does not)");
  cmd->add_option("--max-file-bytes", o->max_file_bytes,
                  "Start a new part before a file exceeds this size, e.g. 2GiB; 0 = classic TIFF's 4 GiB only")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  cmd->add_option("--max-file-frames", o->max_file_frames, "Start a new part after this many frames; 0 = no limit")
      ->capture_default_str();
  cmd->add_flag("--no-direct-io", o->no_direct_io, "Write through the page cache instead of O_DIRECT");
  cmd->add_flag("--write-from-slots", o->write_from_slots,
                "O_DIRECT straight from the ring's slots (no copy) instead of through huge-page staging buffers: "
                "faster only where writes from 4 KiB pages are not slower (see bench record)");
  cmd->add_option("--frames", o->frames, "Record this many frames, then close and exit; 0 = until SIGINT/SIGTERM")
      ->capture_default_str();
  cmd->add_flag("--fail-on-drop", o->fail_on_drop,
                "End the recording at the first lost frame (a gap after an eviction, or frames the source dropped): "
                "the frame after the loss is recorded (so the manifest shows the gap), then the recording closes "
                "with stop reason \"drop\" and exit code 3");
  cmd->add_option("--wait-for-ring-s", o->wait_for_ring_s, "How long to wait for the ring to appear, in seconds")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  cmd->add_option("--stall-timeout-s", o->stall_timeout_s,
                  "The producer evicts this recorder (a gap, exit code 3) after it makes no progress for this long; "
                  "0 = never")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  cmd->add_option("--dead-timeout-s", o->dead_timeout_s,
                  "The ring keeps a dead recorder's frames this long: the window for a restart to resume without loss")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  cmd->add_option("--report-interval-s", o->report_interval_s, "Seconds between rate reports in the log; 0 = none")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  cmd->callback([o, &command] {
    command.action = [o] { return run_record(*o); };
    command.rings = [o] {
      return std::vector<RingUse>{{.ring = o->ring,
                                   .role = RingRole::ConsumesEvery,
                                   .dead_timeout = std::chrono::milliseconds{std::llround(o->dead_timeout_s * 1000)}}};
    };
  });
}

}  // namespace framering::record
