// metrics.hpp: `GET /metrics`: the rings' and stages' counters in Prometheus' text exposition
// format (version 0.0.4: https://prometheus.io/docs/instrumenting/exposition_formats/), each
// family with its HELP and TYPE lines. Debian 12 has no C++ Prometheus client library; the format
// is lines of `name{label="value",...} number`, written here with fmt and label values escaped.
// Pure: unit-tested, and `promtool check metrics` checks real output (tests/multiprocess).
#pragma once

#include <string>
#include <vector>

#include "framering/common/ring_status.hpp"
#include "framering/supervise/run_service.hpp"

namespace framering::supervise {

/// Content-Type of the exposition format.
inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

/// The exposition text for `instance`'s rings (unreadable ones are skipped) and its stages.
/// Families (all labelled instance; ring families by ring, consumer families by ring, consumer
/// and kind, stage families by stage):
///   framering_ring_frames_published_total, framering_ring_frames_dropped_total,
///   framering_ring_source_frames_lost_total, framering_ring_evictions_total,
///   framering_ring_producer_blocked_seconds_total, framering_ring_producer_up,
///   framering_consumer_frames_read_total, _lost_total, _skipped_total, _torn_total,
///   framering_consumer_lag_frames, framering_consumer_latency_p50_seconds, _p99_seconds
///   (publish -> read, over its last 256 reads; absent before its first read),
///   framering_stage_restarts_total, framering_stage_up.
[[nodiscard]] std::string prometheus_metrics(const std::string& instance, const std::vector<ring::RingListing>& rings,
                                             const std::vector<StageView>& stages);

/// `value` escaped for a label value: backslash, double quote and newline.
[[nodiscard]] std::string escape_label_value(const std::string& value);

}  // namespace framering::supervise
