// record_command.hpp: `framering record`: every frame of a ring into a lossless recording.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "framering/common/cli_options.hpp"
#include "framering/common/stage_command.hpp"


namespace CLI {
class App;
}

namespace framering::record {

/// The options of `framering record` (see its --help for each one's meaning).
struct RecordOptions {
  CommonOptions common;
  std::string ring = "raw";
  ring::WaitStrategy wait = ring::kDefaultWaitStrategy;  ///< how it waits for frames (--wait)
  std::string name = "record";     ///< consumer name: a restarted recorder with the same name resumes
  std::string dest;                ///< folder that holds recordings
  std::string recording;           ///< recording folder name inside dest; empty: automatic
  bool bigtiff = false;
  std::uint64_t max_file_bytes = 0;   ///< 0: classic TIFF's 4 GiB limit only
  std::uint64_t max_file_frames = 0;
  bool no_direct_io = false;
  bool write_from_slots = false;   ///< O_DIRECT straight from the ring's slots, never through huge-page staging
  std::uint64_t frames = 0;        ///< record this many frames, then close; 0 = until SIGINT/SIGTERM
  bool fail_on_drop = false;       ///< end (exit code 3, stop reason "drop") at the first frame lost before one it reads
  double wait_for_ring_s = 10.0;
  double stall_timeout_s = 10.0;
  double dead_timeout_s = 5.0;
  double report_interval_s = 5.0;
};

/// Runs the recorder: waits for the ring, attaches as an every consumer (gating the producer),
/// creates or resumes a recording (recording.hpp) and appends every frame until `frames` are
/// recorded or SIGINT/SIGTERM (or, with fail_on_drop, the first loss), then drains what the ring already holds, closes the files and
/// writes the manifest. Prints one JSON summary line on stdout.
/// Returns 0 when nothing was lost, 3 when ring frames were lost (gaps), 2 when writing failed
/// (full disk, unwritable folder: the files are valid up to the last complete frame, the
/// manifest or index says where it stopped, and the ring is released). Throws framering::Error
/// when it cannot start (bad destination or name, ring missing or of another shape).
[[nodiscard]] int run_record(const RecordOptions& options);

/// Adds the `record` subcommand to `app`; when selected, `action` is set to run it.
void add_record_subcommand(CLI::App& app, StageCommand& command);

}  // namespace framering::record
