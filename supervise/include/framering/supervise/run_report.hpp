// run_report.hpp: what `framering run` says while it runs and when it ends, from the stages'
// states and snapshots of the rings (ring_status.hpp): the live status line and the summary
// (a table on stderr, and JSON). Pure: unit-testable from hand-made snapshots.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framering/common/ring_status.hpp"
#include "framering/supervise/stage_process.hpp"

namespace framering::supervise {

/// Frames an every consumer had not taken when the run ended: [first, last] on `ring`.
/// `held`: its entry is still in the ring (it was not evicted), so the frames are still in the
/// slots and a consumer of the same name that attaches later takes them (the ring is kept for
/// it); otherwise the producer evicted it and they are lost.
struct Unrecorded {
  std::string ring;
  std::string consumer;
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  bool held = false;
  [[nodiscard]] std::uint64_t count() const noexcept { return last - first + 1; }
};

/// Every frame an every consumer of these rings still owes, from snapshots taken after the
/// stages have ended (read_status with include_detached).
[[nodiscard]] std::vector<Unrecorded> unrecorded_frames(const std::vector<ring::RingStatus>& rings);

/// One stage's counters over the run, from the rings it declares.
struct StageTally {
  std::uint64_t frames = 0;   ///< published (a producer) or read (a consumer)
  std::uint64_t skipped = 0;
  std::uint64_t torn = 0;
  std::uint64_t dropped = 0;
  std::uint64_t lost = 0;     ///< frames its every consumers lost (gaps), and what it owes at the end
  std::uint64_t gaps = 0;
  std::uint64_t owed = 0;     ///< held for it in a kept ring (part of `lost` until a later run takes them)
  double blocked_s = 0;       ///< a producer: time it waited for every consumers
  double rate_fps = 0;        ///< live rate
  std::uint64_t lag = 0;
  double latency_p99_us = 0;  ///< a consumer: the worst p99 publish -> read latency of its inputs; 0 = none yet
  std::uint64_t source_lost = 0;
  bool source_away = false;
  std::string source_line;    ///< its source's loss counters, when it reports any
  nlohmann::json rings = nlohmann::json::object();
};

[[nodiscard]] StageTally tally_stage(const StageProcess& stage, const std::vector<ring::RingStatus>& rings,
                                     const std::vector<Unrecorded>& unrecorded);

/// "12.0 s | acquire 30.0/s blocked 1.2 s | record 30.0/s lag 2 | ... [####....] 40%".
/// `fraction` < 0: no progress bar.
[[nodiscard]] std::string status_line(const std::vector<StageProcess>& stages, const std::vector<ring::RingStatus>& rings,
                                      double elapsed_s, double fraction);

/// The end of a run.
struct RunSummary {
  std::string text;     ///< the table for stderr
  nlohmann::json json;  ///< --summary-json
  int exit_code = 0;    ///< 0 ok, 2 a stage failed, 3 frames lost (or owed)
};

/// `failed`: a stage could not start or was given up.
[[nodiscard]] RunSummary summarize_run(const std::string& instance, const std::string& source, double elapsed_s,
                                       const std::vector<StageProcess>& stages,
                                       const std::vector<ring::RingStatus>& rings,
                                       const std::vector<Unrecorded>& unrecorded, bool failed);

}  // namespace framering::supervise
