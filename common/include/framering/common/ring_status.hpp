// ring_status.hpp: a snapshot of one ring, read without attaching (no entry is taken and
// nothing is written): what `framering status` and the supervisor show.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "framering/common/segment.hpp"

namespace framering::ring {

/// One consumer entry as seen from outside.
struct ConsumerStatus {
  std::uint32_t index = 0;  ///< entry in the consumer table
  std::string name;
  ConsumerKind kind = ConsumerKind::Newest;
  ConsumerState state = ConsumerState::Free;
  std::uint32_t pid = 0;
  bool alive = false;
  std::uint64_t cursor = 0;  ///< next sequence wanted
  std::uint64_t lag = 0;     ///< published - cursor (frames)
  std::uint64_t frames_read = 0;
  std::uint64_t frames_skipped = 0;
  std::uint64_t frames_torn = 0;
  std::uint64_t gaps = 0;
  std::uint64_t frames_lost = 0;
  std::uint64_t last_gap_first = 0;
  std::uint64_t last_gap_last = 0;
  std::uint64_t evictions = 0;
  double rate_fps = 0;
  double heartbeat_age_s = 0;  ///< since its last read or wait
  /// Publish -> read latency over its last LatencyWindow::kFrames reads, in µs (nearest-rank
  /// p50 and p99, max); latency_frames = reads they are over, 0 = none yet.
  double latency_p50_us = 0;
  double latency_p99_us = 0;
  double latency_max_us = 0;
  std::uint64_t latency_frames = 0;
};

/// One ring as seen from outside.
struct RingStatus {
  std::string ring;
  std::string segment;  ///< /dev/shm path
  RingGeometry geometry;
  std::uint64_t segment_bytes = 0;
  std::uint32_t permissions = 0;
  std::uint32_t producer_pid = 0;  ///< last producer; 0 = never had one
  bool producer_alive = false;
  std::uint64_t producer_attaches = 0;
  std::uint64_t published = 0;  ///< frames published; the newest is published - 1
  double rate_fps = 0;
  double heartbeat_age_s = 0;
  std::uint64_t frames_dropped = 0;
  std::uint64_t evictions = 0;
  double blocked_s = 0;  ///< total time the producer waited for every consumers
  ProducerControl::SourceStats source{};  ///< what the source (camera) lost before the ring
  std::vector<ConsumerStatus> consumers;  ///< entries in use, by table index
};

/// Reads `segment`'s header, control block and consumer table. With `include_detached`, also
/// the entries consumers left when they detached (state Free, name and counters intact until
/// the entry is reused): what the supervisor's summary reads after the stages have exited.
[[nodiscard]] RingStatus read_status(const Segment& segment, bool include_detached = false);

/// The entry of the consumer named `name` that is in use (attaching, active or evicted), as
/// read_status shows it: its state, cursor and counters. nullopt when no entry in use has that
/// name (never attached, or detached). Reads without attaching, like read_status.
[[nodiscard]] std::optional<ConsumerStatus> find_consumer(const Segment& segment, std::string_view name);

/// The snapshot as JSON (keys as the field names above).
[[nodiscard]] nlohmann::json to_json(const RingStatus& status);

/// One ring of an instance as `framering status` lists it: its snapshot, or why it could not
/// be read.
struct RingListing {
  std::string instance;
  std::string ring;
  std::optional<RingStatus> status;  ///< nullopt when the segment could not be read
  bool stale = false;                ///< readable, and no live producer or consumer is attached
  std::string error;                 ///< why it could not be read (the Error's message)
};

/// Every ring of `instance` in /dev/shm, by name, each read as read_status reads it. Never
/// throws for one ring: an unreadable segment (being created, truncated, foreign) is listed
/// with its error.
[[nodiscard]] std::vector<RingListing> list_instance(const std::string& instance);

/// What `framering status --json` prints for one ring, and `framering.status()` returns in
/// Python: to_json(status) plus "instance" and "stale", or {instance, ring, error}.
[[nodiscard]] nlohmann::json to_json(const RingListing& listing);

/// A human table: one block per ring, one row per consumer.
[[nodiscard]] std::string format_status(const RingStatus& status);

[[nodiscard]] std::string_view to_string(ConsumerKind kind) noexcept;
[[nodiscard]] std::string_view to_string(ConsumerState state) noexcept;

}  // namespace framering::ring
