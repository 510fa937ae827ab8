#include "framering/supervise/metrics.hpp"

#include <map>

#include <fmt/format.h>

namespace framering::supervise {
namespace {

// One metric family: its HELP and TYPE lines, then its samples.
class Family {
 public:
  Family(std::string name, std::string type, std::string help)
      : name_(std::move(name)), type_(std::move(type)), help_(std::move(help)) {}

  void add(const std::vector<std::pair<std::string, std::string>>& labels, double value) {
    std::string text;
    for (const auto& [key, label] : labels) {
      text += fmt::format("{}{}=\"{}\"", text.empty() ? "" : ",", key, escape_label_value(label));
    }
    samples_ += fmt::format("{}{{{}}} {}\n", name_, text, value);
  }

  void write(std::string& out) const {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name_, help_, name_, type_);
    out += samples_;
  }

 private:
  std::string name_;
  std::string type_;
  std::string help_;
  std::string samples_;
};

}  // namespace

std::string escape_label_value(const std::string& value) {
  std::string out;
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string prometheus_metrics(const std::string& instance, const std::vector<ring::RingListing>& rings,
                               const std::vector<StageView>& stages) {
  Family published("framering_ring_frames_published_total", "counter",
                   "Frames published on the ring since its segment was created.");
  Family dropped("framering_ring_frames_dropped_total", "counter",
                 "Frames the producer discarded because an every consumer held the slot too long.");
  Family source_lost("framering_ring_source_frames_lost_total", "counter",
                     "Frames the source (camera) lost before they reached the ring.");
  Family evictions("framering_ring_evictions_total", "counter", "Every consumers the producer evicted.");
  Family blocked("framering_ring_producer_blocked_seconds_total", "counter",
                 "Time the producer waited for every consumers, in seconds.");
  Family producer_up("framering_ring_producer_up", "gauge", "1 when a live producer is attached to the ring.");
  Family read("framering_consumer_frames_read_total", "counter", "Frames the consumer read.");
  Family lost("framering_consumer_frames_lost_total", "counter",
              "Frames an every consumer lost (gaps after an eviction).");
  Family skipped("framering_consumer_frames_skipped_total", "counter",
                 "Frames a newest consumer did not take (not loss).");
  Family torn("framering_consumer_frames_torn_total", "counter",
              "Reads the producer lapped mid-read (detected, never shown).");
  Family lag("framering_consumer_lag_frames", "gauge", "Frames published that the consumer has not yet read.");
  Family p50("framering_consumer_latency_p50_seconds", "gauge",
             "Median publish-to-read latency over the consumer's last 256 reads, in seconds.");
  Family p99("framering_consumer_latency_p99_seconds", "gauge",
             "99th percentile publish-to-read latency over the consumer's last 256 reads, in seconds.");
  Family restarts("framering_stage_restarts_total", "counter", "Times the supervisor restarted the stage.");
  Family up("framering_stage_up", "gauge", "1 while a process of the stage runs.");

  for (const auto& listing : rings) {
    if (!listing.status) continue;
    const ring::RingStatus& r = *listing.status;
    const std::vector<std::pair<std::string, std::string>> ring_labels = {{"instance", instance}, {"ring", r.ring}};
    published.add(ring_labels, static_cast<double>(r.published));
    dropped.add(ring_labels, static_cast<double>(r.frames_dropped));
    source_lost.add(ring_labels, static_cast<double>(r.source.frames_lost));
    evictions.add(ring_labels, static_cast<double>(r.evictions));
    blocked.add(ring_labels, r.blocked_s);
    producer_up.add(ring_labels, r.producer_alive ? 1 : 0);
    for (const auto& c : r.consumers) {
      const std::vector<std::pair<std::string, std::string>> labels = {
          {"instance", instance}, {"ring", r.ring}, {"consumer", c.name}, {"kind", std::string{ring::to_string(c.kind)}}};
      read.add(labels, static_cast<double>(c.frames_read));
      lost.add(labels, static_cast<double>(c.frames_lost));
      skipped.add(labels, static_cast<double>(c.frames_skipped));
      torn.add(labels, static_cast<double>(c.frames_torn));
      lag.add(labels, static_cast<double>(c.lag));
      if (c.latency_frames > 0) {
        p50.add(labels, c.latency_p50_us / 1e6);
        p99.add(labels, c.latency_p99_us / 1e6);
      }
    }
  }
  for (const auto& s : stages) {
    const std::vector<std::pair<std::string, std::string>> labels = {{"instance", instance}, {"stage", s.name}};
    restarts.add(labels, s.restarts);
    up.add(labels, s.state == "running" ? 1 : 0);
  }
  std::string out;
  for (const Family* f : {&published, &dropped, &source_lost, &evictions, &blocked, &producer_up, &read, &lost, &skipped,
                          &torn, &lag, &p50, &p99, &restarts, &up}) {
    f->write(out);
  }
  return out;
}

}  // namespace framering::supervise
