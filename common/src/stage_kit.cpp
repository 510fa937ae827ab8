#include "framering/common/stage_kit.hpp"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "framering/common/error.hpp"
#include "framering/common/logging.hpp"
#include "framering/common/stage_command.hpp"
#include "framering/common/stop_signal.hpp"

namespace framering::stage {
namespace {

// Logs why a wait for `ring` ended without it (a stop); the stage then ends with exit code 0.
void log_stopped_waiting(const ring::CreationWait& wait, std::string_view ring) {
  spdlog::info("stopped ({}) while waiting for {} '{}'", end_reason("no signal"), wait.role, ring);
}

}  // namespace

void begin(std::string_view stage, const CommonOptions& common, std::initializer_list<std::string_view> rings) {
  setup_logging(stage, common.log_level);
  install_stop_handlers();
  ring::Segment::validate_name("instance", common.instance);
  for (std::string_view ring : rings) ring::Segment::validate_name("ring", ring);
}

std::chrono::nanoseconds from_seconds(double s) noexcept {
  if (!(s > 0)) return std::chrono::nanoseconds{0};
  return std::chrono::nanoseconds{std::llround(s * 1e9)};
}

std::uint64_t to_ns(double s) noexcept { return static_cast<std::uint64_t>(from_seconds(s).count()); }

double seconds(std::uint64_t ns) noexcept { return static_cast<double>(ns) / 1e9; }

bool Drain::finished(const ring::RingReader& reader) {
  if (!stop_requested()) return false;
  if (!target_) {
    target_ = reader.published();
    await_producer_ = supervisor_died();
    deadline_ns_ = monotonic_ns() + static_cast<std::uint64_t>(std::chrono::nanoseconds{kProducerLeaveWait}.count());
    spdlog::info("stop requested: {} up to sequence {} ({} frames still in the ring){}", what_, *target_,
                 *target_ > reader.cursor() ? *target_ - reader.cursor() : 0,
                 await_producer_ ? ", and what the producer publishes until it has left (the supervisor died)" : "");
  }
  if (reader.cursor() < *target_) return false;
  if (!await_producer_) return true;
  // Liveness first, then `published`: a producer seen gone has published all it ever will.
  await_producer_ = reader.is_producer_alive() && monotonic_ns() < deadline_ns_;
  target_ = reader.published();
  return false;  // one more pass: take what it published last, or end
}

bool keep_running(std::uint64_t done, std::uint64_t limit) noexcept {
  return !stop_requested() && (limit == 0 || done < limit);
}

std::string_view end_reason(std::string_view otherwise) noexcept {
  switch (stop_signal()) {
    case 0: return otherwise;
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    default: return "a signal";
  }
}

std::optional<ring::RingReader> attach_input(std::string_view instance, std::string_view ring,
                                             const ring::ReaderOptions& options, ring::CreationWait wait) {
  wait.should_stop = &stop_requested;
  auto reader = ring::attach_when_created(instance, ring, options, wait);
  if (!reader) log_stopped_waiting(wait, ring);
  return reader;
}

std::optional<ring::Segment> open_input(std::string_view instance, std::string_view ring, ring::CreationWait wait) {
  wait.should_stop = &stop_requested;
  auto segment = ring::open_when_created(instance, ring, wait);
  if (!segment) log_stopped_waiting(wait, ring);
  return segment;
}

void require_pixel_format(const ring::Segment& segment, std::string_view stage, bool accepted, std::string_view takes) {
  if (accepted) return;
  throw ConfigError(fmt::format("{}: ring '{}' holds {} frames; {} takes {}", stage, segment.ring_name(),
                                to_string(segment.geometry().frame.pixel_format), stage, takes));
}

bool wait_for_consumers(const ring::RingWriter& writer, std::uint32_t count, std::chrono::nanoseconds timeout) {
  if (count == 0) return true;
  const auto timeout_ms = std::chrono::ceil<std::chrono::milliseconds>(timeout);
  if (writer.wait_for_consumers(count, timeout_ms, &stop_requested)) return true;
  if (stop_requested()) return false;
  spdlog::warn("ring {}: {} consumer(s) expected, not all attached within {} s; producing anyway",
               writer.segment().ring_name(), count, std::chrono::duration<double>(timeout).count());
  return true;
}

std::expected<ring::WritableSlot, ClaimEnd> claim(ring::RingWriter& writer, std::chrono::nanoseconds timeout,
                                                  std::uint64_t* waits) noexcept {
  const std::uint64_t start_ns = monotonic_ns();
  const auto timeout_ns = static_cast<std::uint64_t>(std::max<std::int64_t>(timeout.count(), 0));
  const std::uint64_t poll_ns = std::chrono::nanoseconds{kPollPeriod}.count();
  for (;;) {
    const std::uint64_t waited_ns = monotonic_ns() - start_ns;
    const std::uint64_t slice_ns = waited_ns >= timeout_ns ? 0 : std::min(timeout_ns - waited_ns, poll_ns);
    if (auto slot = writer.claim(std::chrono::nanoseconds{slice_ns})) return *slot;
    if (waits != nullptr) ++*waits;
    if (stop_requested()) return std::unexpected(ClaimEnd::Stopped);
    if (monotonic_ns() - start_ns >= timeout_ns) return std::unexpected(ClaimEnd::TimedOut);
  }
}

bool wait_until(std::uint64_t due_ns) noexcept {
  const std::uint64_t now_ns = monotonic_ns();
  if (now_ns >= due_ns) return true;
  const std::uint64_t poll_ns = std::chrono::nanoseconds{kPollPeriod}.count();
  std::this_thread::sleep_for(std::chrono::nanoseconds{std::min(due_ns - now_ns, poll_ns)});
  return monotonic_ns() >= due_ns;
}

double Throughput::frames_per_s() const noexcept { return seconds > 0 ? static_cast<double>(frames) / seconds : 0.0; }

double Throughput::bytes_per_s() const noexcept { return seconds > 0 ? static_cast<double>(bytes) / seconds : 0.0; }

RateReport::RateReport(std::string verb, std::chrono::nanoseconds interval, std::uint64_t start_ns)
    : verb_(std::move(verb)),
      interval_ns_(static_cast<std::uint64_t>(std::max<std::int64_t>(interval.count(), 0))),
      start_ns_(start_ns),
      interval_start_ns_(start_ns) {}

void RateReport::count(std::uint64_t frames, std::uint64_t bytes) noexcept {
  counted_.frames += frames;
  counted_.bytes += bytes;
}

Throughput RateReport::total(std::uint64_t now_ns) const noexcept {
  return {counted_.frames, counted_.bytes, now_ns > start_ns_ ? seconds(now_ns - start_ns_) : 0.0};
}

std::optional<Throughput> RateReport::take_interval(std::uint64_t now_ns) noexcept {
  if (interval_ns_ == 0 || now_ns < interval_start_ns_ || now_ns - interval_start_ns_ < interval_ns_) return std::nullopt;
  const Throughput interval{counted_.frames - at_interval_start_.frames, counted_.bytes - at_interval_start_.bytes,
                            seconds(now_ns - interval_start_ns_)};
  interval_start_ns_ = now_ns;
  at_interval_start_ = counted_;
  return interval;
}

std::string RateReport::line(const Throughput& interval, std::string_view details) const {
  return fmt::format("{} {} frames in {:.1f} s ({:.1f} frames/s{}){}{}", verb_, interval.frames, interval.seconds,
                     interval.frames_per_s(),
                     interval.bytes > 0 ? fmt::format(", {:.1f} MB/s", interval.bytes_per_s() / 1e6) : std::string{},
                     details.empty() ? "" : "; ", details);
}

void RateReport::log(const std::string& line) { spdlog::info("{}", line); }

std::string describe(const ring::ConsumerCounters& c) {
  return fmt::format("read {}, skipped {}, torn {}{}", c.frames_read, c.frames_skipped, c.frames_torn,
                     c.gaps > 0 ? fmt::format(", lost {} in {} gaps", c.frames_lost, c.gaps) : std::string{});
}

void print_summary(const nlohmann::json& summary) {
  std::printf("%s\n", summary.dump().c_str());
  std::fflush(stdout);
}

}  // namespace framering::stage
