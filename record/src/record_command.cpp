// record_command.cpp: `framering record`: an every consumer (it gates the producer, so a slow
// disk slows acquisition instead of losing frames) that appends each frame to a recording.
//
// Per frame:  read (in place) ──► pwritev(IFD block, slot pixels) with O_DIRECT ──► link the
//             previous page ──► index row ──► release (the producer may now reuse the slot)
// A frame is released only once it is on disk and indexed, so a recorder killed at any point
// resumes at a cursor whose frames are all either recorded or still in the ring.
// Stop (SIGINT/SIGTERM): read on until the cursor reaches what was published when the signal
// came (the drain), close the part, write the manifest, exit. A stop from the death of the
// `framering run` that started it came to the producer at the same moment (PR_SET_PDEATHSIG),
// not before: the drain then also takes what the producer publishes until it has left.
#include "framering/record/record_command.hpp"

#include <signal.h>

#include <chrono>
#include <cmath>
#include <cstdio>
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
#include "framering/common/segment.hpp"
#include "framering/common/stop_signal.hpp"
#include "framering/record/recording.hpp"

namespace framering::record {
namespace {

using namespace std::chrono_literals;

constexpr auto kPollTimeout = 100ms;
/// A stop from the supervisor's death: how long the drain waits for the producer to leave.
constexpr std::uint64_t kProducerLeaveWaitNs = 5'000'000'000;

std::chrono::nanoseconds seconds_to_ns(double s) { return std::chrono::nanoseconds{static_cast<std::int64_t>(s * 1e9)}; }

}  // namespace

int run_record(const RecordOptions& o) {
  // RLIMIT_FSIZE must end in EFBIG (a clear error, a valid file), not in SIGXFSZ's core dump.
  ::signal(SIGXFSZ, SIG_IGN);
  validate_destination(o.dest, o.recording);

  ring::Segment segment = [&] {
    try {
      return ring::Segment::open(o.common.instance, o.ring, std::nullopt,
                                 std::chrono::milliseconds{static_cast<std::int64_t>(o.wait_for_ring_s * 1000)});
    } catch (const SegmentError& e) {
      throw SegmentError(fmt::format("ring '{}' of instance '{}' could not be opened after waiting {} s for it: {}",
                                     o.ring, o.common.instance, o.wait_for_ring_s, e.what()));
    }
  }();
  const ring::SegmentHeader& h = segment.header();
  const auto format = static_cast<PixelFormat>(h.pixel_format);
  PageGeometry page{h.width, h.height, format, o.bigtiff};
  const std::uint64_t slot_stride = h.slot_stride_bytes;

  ring::ReaderOptions ro;
  ro.name = o.name;
  ro.kind = ring::ConsumerKind::Every;
  ro.stall_timeout = seconds_to_ns(o.stall_timeout_s);
  ro.dead_timeout = seconds_to_ns(o.dead_timeout_s);
  std::optional<ring::RingReader> reader = ring::RingReader::attach(o.common.instance, o.ring, ro);

  RecordingSettings settings;
  settings.dest = o.dest;
  settings.name = o.recording;
  settings.geometry = page;
  settings.max_file_bytes = o.max_file_bytes;
  settings.max_file_frames = o.max_file_frames;
  settings.direct_io = !o.no_direct_io;
  const RecordingIdentity identity{o.common.instance, o.ring, o.name, h.segment_id};
  Recording recording(settings, identity, reader->cursor());
  spdlog::info("every consumer '{}' of ring '{}' ({}x{} {}, {} slots){}", o.name, o.ring, h.width, h.height,
               to_string(format), h.slot_count, reader->resumed() ? ", resumed at its cursor" : "");

  const std::uint64_t start_ns = monotonic_ns();
  const auto report_every_ns = static_cast<std::uint64_t>(o.report_interval_s * 1e9);
  std::uint64_t report_ns = start_ns;
  std::uint64_t report_frames = 0;
  std::uint64_t recorded = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t torn = 0;
  std::optional<std::uint64_t> drain_until;
  bool await_producer = false;  // the drain target is final only once the producer has left
  std::uint64_t await_deadline_ns = 0;
  std::optional<RecordFailure> failure;
  nlohmann::json stop = {{"reason", "frames"}};

  for (;;) {
    if (!drain_until && stop_requested()) {
      drain_until = ring::at(segment.control().cursor.published).load(std::memory_order_acquire);
      await_producer = supervisor_died();
      await_deadline_ns = monotonic_ns() + kProducerLeaveWaitNs;
      stop = {{"reason", fmt::format("signal {}", stop_signal() == SIGINT ? "SIGINT" : "SIGTERM")}};
      spdlog::info("stop requested: draining up to sequence {} ({} frames still in the ring){}", *drain_until,
                   *drain_until > reader->cursor() ? *drain_until - reader->cursor() : 0,
                   await_producer ? ", and what the producer publishes until it has left (the supervisor died)" : "");
    }
    if (drain_until && reader->cursor() >= *drain_until) {
      if (!await_producer) break;
      // Liveness first, then `published`: a producer seen gone has published all it ever will.
      await_producer = reader->is_producer_alive() && monotonic_ns() < await_deadline_ns;
      drain_until = ring::at(segment.control().cursor.published).load(std::memory_order_acquire);
      if (!await_producer) continue;  // one more pass: take what it published last, or end
    }
    if (o.frames > 0 && recorded >= o.frames) break;
    const std::uint64_t now_ns = monotonic_ns();
    if (report_every_ns > 0 && now_ns - report_ns >= report_every_ns) {
      const double s = static_cast<double>(now_ns - report_ns) / 1e9;
      spdlog::info("{:.1f} frames/s recorded ({:.0f} MB/s); {} frames so far, {} lost",
                   static_cast<double>(recorded - report_frames) / s,
                   static_cast<double>((recorded - report_frames) * page.page_bytes()) / s / 1e6, recorded,
                   recording.tally().ring_lost());
      report_ns = now_ns;
      report_frames = recorded;
    }
    auto frame = reader->read(kPollTimeout);
    if (!frame) continue;
    if (frame->gap) {
      spdlog::warn("lost frames {}..{} ({} frames): this recorder was evicted (too slow or away too long)",
                   frame->gap->first, frame->gap->last, frame->gap->count());
    }
    if (frame->source_frames_lost > 0) {
      spdlog::warn("the source lost {} frame(s) just before sequence {} (camera frame id {})", frame->source_frames_lost,
                   frame->sequence, frame->camera_frame_id);
    }
    const IndexRow row{0, 0, frame->sequence, frame->timestamp_ns, frame->camera_frame_id, frame->source_frames_lost};
    auto appended = recording.append(row, frame->pixels.data(), frame->stride_bytes, slot_stride);
    const bool intact = reader->release(*frame);
    if (!appended) {
      failure = appended.error();
      break;
    }
    if (*appended == AppendOutcome::Duplicate) {
      ++duplicates;
      continue;
    }
    ++recorded;
    if (!intact) {
      ++torn;
      spdlog::error("frame {} was overwritten while it was written (this recorder was evicted meanwhile): its page "
                    "in the recording is damaged",
                    frame->sequence);
    }
  }

  const ring::ConsumerCounters counters = reader->counters();
  if (failure) {
    spdlog::error("{}", failure->message);
    stop = {{"reason", "error"}, {"message", failure->message}, {"errno", failure->error}};
  }
  reader.reset();  // detach first: the producer must never wait on a recorder that is closing files
  if (stop_signal() != 0 && !failure) spdlog::info("drained; closing the recording");
  const nlohmann::json manifest = recording.close(stop);
  const double seconds = static_cast<double>(monotonic_ns() - start_ns) / 1e9;
  const RecordingTally& t = recording.tally();
  const std::uint64_t lost = std::max(t.ring_lost(), counters.frames_lost);
  const int exit_code = failure ? 2 : (lost > 0 || torn > 0) ? 3 : 0;
  spdlog::info("recorded {} frames in {:.1f} s ({:.1f} frames/s, {:.0f} MB/s) into {}: {} lost in the ring, {} lost "
               "by the source, complete: {}",
               recorded, seconds, seconds > 0 ? static_cast<double>(recorded) / seconds : 0.0,
               seconds > 0 ? static_cast<double>(recording.bytes_written()) / seconds / 1e6 : 0.0,
               recording.folder().string(), lost, t.source_lost(), t.complete() && torn == 0 ? "yes" : "NO");
  nlohmann::json summary = {{"recording", recording.folder().string()},
                            {"recorded", recorded},
                            {"frames_recorded_total", t.frames()},
                            {"lost", lost},
                            {"torn", torn},
                            {"duplicates_skipped", duplicates},
                            {"gaps", manifest.value("gaps", nlohmann::json::array()).size()},
                            {"source_frames_lost", t.source_lost()},
                            {"complete", t.complete() && torn == 0},
                            {"files", t.parts().size()},
                            {"resumed", recording.resumed()},
                            {"bytes", recording.bytes_written()},
                            {"seconds", seconds},
                            {"frames_per_s", seconds > 0 ? static_cast<double>(recorded) / seconds : 0.0},
                            {"bytes_per_s", seconds > 0 ? static_cast<double>(recording.bytes_written()) / seconds : 0.0},
                            {"stop", stop},
                            {"exit_code", exit_code}};
  if (manifest.contains("manifest_error")) summary["manifest_error"] = manifest["manifest_error"];
  std::printf("%s\n", summary.dump().c_str());
  std::fflush(stdout);
  if (exit_code == 3) spdlog::error("lost {} frames: exit code 3", lost + torn);
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
      "  index.csv            part,page,sequence,timestamp_ns,camera_frame_id,source_frames_lost\n"
      "  recording.json       ring, geometry, first sequence wanted\n"
      "  manifest.json        at close: files, first/last sequence, frames recorded, gaps [first,last]\n"
      "                       with their cause (evicted, source_drop), complete = nothing lost in the ring\n"
      "SIGINT/SIGTERM: drains every frame already in the ring, closes the files, then exits.\n"
      "Killed (SIGKILL): the files stay readable up to the last complete frame; started again with the\n"
      "same --name and --dest it resumes the open recording at its cursor, in a new part.\n"
      "Writes with O_DIRECT straight from the ring's slots (buffered where the file system refuses it).\n"
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
  cmd->add_option("--frames", o->frames, "Record this many frames, then close and exit; 0 = until SIGINT/SIGTERM")
      ->capture_default_str();
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
    command.action = [o] {
      setup_logging("record", o->common.log_level);
      install_stop_handlers();
      return run_record(*o);
    };
    command.rings = [o] {
      return std::vector<RingUse>{{.ring = o->ring,
                                   .role = RingRole::ConsumesEvery,
                                   .dead_timeout = std::chrono::milliseconds{std::llround(o->dead_timeout_s * 1000)}}};
    };
  });
}

}  // namespace framering::record
