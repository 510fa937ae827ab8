#include "framering/common/ring_status.hpp"

#include <atomic>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "framering/common/clock.hpp"
#include "framering/common/error.hpp"
#include "framering/common/process_identity.hpp"

namespace framering::ring {
namespace {

double age_s(std::uint64_t heartbeat_ns, std::uint64_t now_ns) {
  return heartbeat_ns == 0 || heartbeat_ns > now_ns ? 0.0 : static_cast<double>(now_ns - heartbeat_ns) / 1e9;
}

// Entry `index` of `segment`'s consumer table; `published` is the producer's cursor, for the lag.
ConsumerStatus read_consumer(const Segment& segment, std::uint32_t index, std::uint64_t published,
                             std::uint64_t now_ns) {
  const ConsumerEntry& e = segment.consumer(index);
  ConsumerStatus cs;
  cs.index = index;
  cs.name.assign(e.identity.name, ::strnlen(e.identity.name, kConsumerNameBytes));
  cs.kind = static_cast<ConsumerKind>(e.identity.kind);
  cs.state = static_cast<ConsumerState>(at(e.identity.state).load(std::memory_order_acquire));
  cs.pid = at(e.identity.pid).load(std::memory_order_acquire);
  cs.alive = is_process_alive(static_cast<pid_t>(cs.pid), e.identity.start_time_ticks);
  cs.cursor = at(e.hot.cursor).load(std::memory_order_acquire);
  cs.lag = published > cs.cursor ? published - cs.cursor : 0;
  cs.frames_read = at(e.counters.frames_read).load(std::memory_order_relaxed);
  cs.frames_skipped = at(e.counters.frames_skipped).load(std::memory_order_relaxed);
  cs.frames_torn = at(e.counters.frames_torn).load(std::memory_order_relaxed);
  cs.gaps = at(e.counters.gaps).load(std::memory_order_relaxed);
  cs.frames_lost = at(e.counters.frames_lost).load(std::memory_order_relaxed);
  cs.last_gap_first = at(e.counters.last_gap_first).load(std::memory_order_relaxed);
  cs.last_gap_last = at(e.counters.last_gap_last).load(std::memory_order_relaxed);
  cs.evictions = at(e.producer_side.evictions).load(std::memory_order_relaxed);
  cs.rate_fps = cs.alive ? static_cast<double>(at(e.counters.rate_milli_fps).load(std::memory_order_relaxed)) / 1000.0 : 0.0;
  cs.heartbeat_age_s = age_s(at(e.hot.heartbeat_ns).load(std::memory_order_relaxed), now_ns);
  cs.latency_frames = at(e.identity.latency.frames).load(std::memory_order_relaxed);
  cs.latency_p50_us = static_cast<double>(at(e.identity.latency.p50_ns).load(std::memory_order_relaxed)) / 1e3;
  cs.latency_p99_us = static_cast<double>(at(e.identity.latency.p99_ns).load(std::memory_order_relaxed)) / 1e3;
  cs.latency_max_us = static_cast<double>(at(e.identity.latency.max_ns).load(std::memory_order_relaxed)) / 1e3;
  return cs;
}

}  // namespace

std::string_view to_string(ConsumerKind kind) noexcept {
  return kind == ConsumerKind::Every ? "every" : "newest";
}

std::string_view to_string(ConsumerState state) noexcept {
  switch (state) {
    case ConsumerState::Free: return "free";
    case ConsumerState::Claiming: return "attaching";
    case ConsumerState::Active: return "active";
    case ConsumerState::Evicted: return "evicted";
  }
  return "unknown";
}

RingStatus read_status(const Segment& segment, bool include_detached) {
  const std::uint64_t now_ns = monotonic_ns();
  const SegmentHeader& h = segment.header();
  const ProducerControl& c = segment.control();
  RingStatus s;
  s.ring = segment.ring_name();
  s.segment = "/dev/shm/" + segment.name();
  s.geometry = segment.geometry();
  s.segment_bytes = h.segment_bytes;
  s.permissions = h.permissions;
  s.producer_pid = at(c.identity.pid).load(std::memory_order_acquire);
  s.producer_alive = at(c.identity.attached).load(std::memory_order_acquire) != 0 &&
                     is_process_alive(static_cast<pid_t>(s.producer_pid), c.identity.start_time_ticks);
  s.producer_attaches = at(c.identity.attach_count).load(std::memory_order_relaxed);
  s.published = at(c.cursor.published).load(std::memory_order_acquire);
  s.rate_fps = s.producer_alive ? static_cast<double>(at(c.stats.rate_milli_fps).load(std::memory_order_relaxed)) / 1000.0 : 0.0;
  s.heartbeat_age_s = age_s(at(c.identity.heartbeat_ns).load(std::memory_order_relaxed), now_ns);
  s.frames_dropped = at(c.stats.frames_dropped).load(std::memory_order_relaxed);
  s.evictions = at(c.stats.evictions).load(std::memory_order_relaxed);
  s.blocked_s = static_cast<double>(at(c.stats.blocked_ns).load(std::memory_order_relaxed)) / 1e9;
  s.source.frames_lost = at(c.source.frames_lost).load(std::memory_order_relaxed);
  s.source.frames_incomplete = at(c.source.frames_incomplete).load(std::memory_order_relaxed);
  s.source.frames_timed_out = at(c.source.frames_timed_out).load(std::memory_order_relaxed);
  s.source.underruns = at(c.source.underruns).load(std::memory_order_relaxed);
  s.source.packets_missing = at(c.source.packets_missing).load(std::memory_order_relaxed);
  s.source.packets_resent = at(c.source.packets_resent).load(std::memory_order_relaxed);
  s.source.outages = at(c.source.outages).load(std::memory_order_relaxed);
  s.source.connected = at(c.source.connected).load(std::memory_order_relaxed);
  for (std::uint32_t i = 0; i < segment.max_consumers(); ++i) {
    const ConsumerEntry& e = segment.consumer(i);
    const auto state = static_cast<ConsumerState>(at(e.identity.state).load(std::memory_order_acquire));
    if (state == ConsumerState::Free && (!include_detached || e.identity.name[0] == '\0')) continue;
    s.consumers.push_back(read_consumer(segment, i, s.published, now_ns));
  }
  return s;
}

namespace {

nlohmann::json latency_json(const ConsumerStatus& c) {
  if (c.latency_frames == 0) return nullptr;
  return {{"p50", c.latency_p50_us}, {"p99", c.latency_p99_us}, {"max", c.latency_max_us}, {"frames", c.latency_frames}};
}

std::string format_latency(const ConsumerStatus& c) {
  if (c.latency_frames == 0) return "-";
  return fmt::format("{:.2f}/{:.2f}/{:.2f}", c.latency_p50_us / 1e3, c.latency_p99_us / 1e3, c.latency_max_us / 1e3);
}

}  // namespace

nlohmann::json to_json(const RingStatus& s) {
  nlohmann::json consumers = nlohmann::json::array();
  for (const auto& c : s.consumers) {
    nlohmann::json gap = nullptr;
    if (c.gaps > 0) gap = {c.last_gap_first, c.last_gap_last};
    consumers.push_back({{"index", c.index}, {"name", c.name}, {"kind", to_string(c.kind)},
                         {"state", to_string(c.state)}, {"pid", c.pid}, {"alive", c.alive},
                         {"cursor", c.cursor}, {"lag", c.lag}, {"frames_read", c.frames_read},
                         {"frames_skipped", c.frames_skipped}, {"frames_torn", c.frames_torn},
                         {"gaps", c.gaps}, {"frames_lost", c.frames_lost}, {"last_gap", gap},
                         {"evictions", c.evictions}, {"rate_fps", c.rate_fps},
                         {"heartbeat_age_s", c.heartbeat_age_s}, {"latency_us", latency_json(c)}});
  }
  return {{"ring", s.ring},
          {"segment", s.segment},
          {"geometry",
           {{"width", s.geometry.frame.width},
            {"height", s.geometry.frame.height},
            {"pixel_format", framering::to_string(s.geometry.frame.pixel_format)},
            {"stride_bytes", s.geometry.row_stride_bytes()},
            {"slot_count", s.geometry.slot_count},
            {"slot_stride_bytes", s.geometry.slot_stride_bytes()},
            {"max_consumers", s.geometry.max_consumers}}},
          {"segment_bytes", s.segment_bytes},
          {"permissions", fmt::format("{:04o}", s.permissions)},
          {"producer", {{"pid", s.producer_pid}, {"alive", s.producer_alive}, {"attaches", s.producer_attaches},
                        {"published", s.published}, {"rate_fps", s.rate_fps},
                        {"heartbeat_age_s", s.heartbeat_age_s}, {"frames_dropped", s.frames_dropped},
                        {"evictions", s.evictions}, {"blocked_s", s.blocked_s}}},
          {"source", {{"frames_lost", s.source.frames_lost}, {"frames_incomplete", s.source.frames_incomplete},
                      {"frames_timed_out", s.source.frames_timed_out}, {"underruns", s.source.underruns},
                      {"packets_missing", s.source.packets_missing}, {"packets_resent", s.source.packets_resent},
                      {"outages", s.source.outages}, {"connected", s.source.connected != 0}}},
          {"consumers", consumers}};
}

std::string format_status(const RingStatus& s) {
  std::string out = fmt::format("ring {} ({}, {} MiB, mode {:04o})\n  {}\n", s.ring, s.segment,
                                s.segment_bytes >> 20U, s.permissions, s.geometry.to_string());
  if (s.producer_pid == 0) {
    out += "  producer: none yet\n";
  } else {
    out += fmt::format("  producer: pid {} {}, published {}, {:.1f} frames/s, dropped {}, evictions {}, "
                       "blocked {:.2f} s, restarts {}\n",
                       s.producer_pid, s.producer_alive ? "alive" : "GONE", s.published, s.rate_fps,
                       s.frames_dropped, s.evictions, s.blocked_s, s.producer_attaches > 0 ? s.producer_attaches - 1 : 0);
  }
  const auto& src = s.source;
  if (src.frames_lost + src.frames_incomplete + src.frames_timed_out + src.underruns + src.packets_missing +
          src.packets_resent + src.outages + src.connected != 0) {
    out += fmt::format("  source: {}, lost {} frames (incomplete {}, timed out {}, underruns {}), packets missing {}, "
                       "resent {}, outages {}\n",
                       src.connected != 0 ? "connected" : "AWAY", src.frames_lost, src.frames_incomplete,
                       src.frames_timed_out, src.underruns, src.packets_missing, src.packets_resent, src.outages);
  }
  if (s.consumers.empty()) {
    out += "  consumers: none\n";
    return out;
  }
  out += fmt::format("  {:<20} {:<6} {:<9} {:>8} {:>5} {:>12} {:>8} {:>10} {:>8} {:>6} {:>8} {:>6}  {:<10} {}\n",
                     "consumer", "kind", "state", "pid", "alive", "cursor", "lag", "read", "skipped", "torn", "lost",
                     "evict", "last gap", "latency ms p50/p99/max");
  for (const auto& c : s.consumers) {
    out += fmt::format("  {:<20} {:<6} {:<9} {:>8} {:>5} {:>12} {:>8} {:>10} {:>8} {:>6} {:>8} {:>6}  {:<10} {}\n", c.name,
                       to_string(c.kind), to_string(c.state), c.pid, c.alive ? "yes" : "NO", c.cursor, c.lag,
                       c.frames_read, c.frames_skipped, c.frames_torn, c.frames_lost, c.evictions,
                       c.gaps > 0 ? fmt::format("[{}, {}]", c.last_gap_first, c.last_gap_last) : "-",
                       format_latency(c));
  }
  out += "  (latency: publish -> read, over each consumer's last 256 reads)\n";
  return out;
}

std::optional<ConsumerStatus> find_consumer(const Segment& segment, std::string_view name) {
  for (std::uint32_t i = 0; i < segment.max_consumers(); ++i) {
    const ConsumerEntry& e = segment.consumer(i);
    if (at(e.identity.state).load(std::memory_order_acquire) == static_cast<std::uint32_t>(ConsumerState::Free)) continue;
    if (std::string_view(e.identity.name, ::strnlen(e.identity.name, kConsumerNameBytes)) != name) continue;
    return read_consumer(segment, i, segment.published(), monotonic_ns());
  }
  return std::nullopt;
}

std::vector<RingListing> list_instance(const std::string& instance) {
  std::vector<RingListing> listings;
  for (auto& ring : Segment::list_rings(instance)) {
    RingListing listing{.instance = instance, .ring = std::move(ring)};
    try {
      const Segment segment = Segment::open(instance, listing.ring);
      listing.status = read_status(segment);
      listing.stale = !segment.has_live_participant();
    } catch (const framering::Error& e) {
      listing.error = e.what();
    }
    listings.push_back(std::move(listing));
  }
  return listings;
}

nlohmann::json to_json(const RingListing& listing) {
  if (!listing.status) return {{"instance", listing.instance}, {"ring", listing.ring}, {"error", listing.error}};
  nlohmann::json entry = to_json(*listing.status);
  entry["instance"] = listing.instance;
  entry["stale"] = listing.stale;
  return entry;
}

}  // namespace framering::ring
