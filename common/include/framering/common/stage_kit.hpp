// stage_kit.hpp: the pieces a stage's entry function is made of, around its own work on frames:
//
//   begin(stage, common, rings)       logging, SIGINT/SIGTERM handlers, names checked up front
//   attach_input / open_input         wait for the ring it reads (its producer may start later)
//   wait_for_consumers                wait for the consumers of the ring it writes
//   keep_running, claim, wait_until   loops and waits that never miss a stop
//   RateReport                        frames (and bytes) per second: one info line per interval,
//                                     and the totals for the summary
//   end_reason, describe,             how the run ended, a consumer's counters in words, and
//   print_summary                     the one JSON line on stdout
//
// A new stage is written by calling these (display_command.cpp's run_display is the shape to
// copy), never by copying a neighbour's loop. Every blocking call here wakes at least every
// kPollPeriod to look at the stop flag (stop_signal.hpp), so a stage ends promptly on a signal.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "framering/common/clock.hpp"
#include "framering/common/cli_options.hpp"
#include "framering/common/ring_reader.hpp"
#include "framering/common/ring_writer.hpp"
#include "framering/common/segment.hpp"

namespace framering::stage {

/// The longest a blocking call in a stage loop (read, claim, a rate cap) waits before the loop
/// looks at the stop flag again.
inline constexpr std::chrono::milliseconds kPollPeriod{100};

/// How often a stage without a --report-interval-s option logs its rates.
inline constexpr std::chrono::seconds kReportPeriod{5};

/// Starts a stage's run: logging as "framering-<stage>[pid]" at `common.log_level`, the
/// SIGINT/SIGTERM handlers, and a check of `common.instance` and every ring name in `rings`, so
/// that a mistyped name fails before any slow start-up (a camera, FFTW planning, waiting for a
/// ring). Throws ConfigError for an unknown log level and SegmentError naming the bad name.
void begin(std::string_view stage, const CommonOptions& common, std::initializer_list<std::string_view> rings);

/// `s` seconds (a command-line option) as a duration, rounded to the nearest ns; 0 for s <= 0.
[[nodiscard]] std::chrono::nanoseconds from_seconds(double s) noexcept;

/// from_seconds in integer ns, for arithmetic on monotonic_ns() values (periods, deadlines).
[[nodiscard]] std::uint64_t to_ns(double s) noexcept;

/// `ns` nanoseconds as seconds, for logs and summaries.
[[nodiscard]] double seconds(std::uint64_t ns) noexcept;

/// Whether a stage loop goes on: no stop was requested and `done` frames have not reached
/// `limit` (0 = no limit: until stopped).
[[nodiscard]] bool keep_running(std::uint64_t done, std::uint64_t limit) noexcept;

/// Why a stage loop ended, for its summary: the signal's name ("SIGINT", "SIGTERM") when a stop
/// was requested, else `otherwise` (e.g. "frames done").
[[nodiscard]] std::string_view end_reason(std::string_view otherwise) noexcept;

/// Attaches to the ring a stage reads, waiting for its producer to create it and watching the
/// stop flag (ring::attach_when_created with `wait.should_stop` = stop_requested). Returns
/// nullopt, after logging "stopped (<signal>) while waiting for ...", when a stop came first:
/// the stage then ends with exit code 0. Throws what ring::attach_when_created throws.
[[nodiscard]] std::optional<ring::RingReader> attach_input(std::string_view instance, std::string_view ring,
                                                           const ring::ReaderOptions& options,
                                                           ring::CreationWait wait);

/// attach_input's form for a stage that must see the ring (its shape) before it attaches, as
/// process plans its FFTs before it may gate anyone: ring::open_when_created, stop-aware, with
/// the same nullopt and log line as attach_input.
[[nodiscard]] std::optional<ring::Segment> open_input(std::string_view instance, std::string_view ring,
                                                      ring::CreationWait wait);

/// Waits until `count` consumers are attached to `writer`'s ring (none when 0), for at most
/// `timeout`, so that a bounded run loses no first frames; when they do not all come, logs a
/// warning and returns true (the stage produces anyway). Returns false when a stop was
/// requested while waiting: the stage then ends with exit code 0.
[[nodiscard]] bool wait_for_consumers(const ring::RingWriter& writer, std::uint32_t count,
                                      std::chrono::nanoseconds timeout);

/// How a claim without a slot ended.
enum class ClaimEnd {
  TimedOut,  ///< an every consumer held the slot for the whole timeout
  Stopped,   ///< a stop was requested while waiting
};

/// No timeout: claim() waits until a slot is free or a stop is requested.
inline constexpr std::chrono::nanoseconds kNoTimeout = std::chrono::nanoseconds::max();

/// The drain of an every consumer at a stop (docs/stages.md, "Stops"). After SIGINT/SIGTERM it
/// takes what was published when the stop came. When the stop came from the death of the
/// `framering run` that started it (supervisor_died(): PR_SET_PDEATHSIG stopped every stage at
/// once, and a producer blocked on a full ring publishes once more as soon as the drain frees a
/// slot), it also takes what the producer publishes until it has left, for at most
/// kProducerLeaveWait. Without this, those frames would be skipped without a word by the next
/// run's consumer, which attaches a fresh entry after this one detached cleanly.
class Drain {
 public:
  static constexpr std::chrono::seconds kProducerLeaveWait{5};

  /// `what` names the work in the log line: "recording", "processing".
  explicit Drain(std::string_view what) noexcept : what_(what) {}

  /// Call once per loop turn, before reading. False while no stop was requested, or while
  /// frames it owes remain (the loop goes on reading); true once it may end.
  [[nodiscard]] bool finished(const ring::RingReader& reader);
  /// Whether a stop was seen (the drain has begun).
  [[nodiscard]] bool draining() const noexcept { return target_.has_value(); }

 private:
  std::string_view what_;
  std::optional<std::uint64_t> target_;  ///< read up to here (exclusive)
  bool await_producer_ = false;          ///< the target is final only once the producer has left
  std::uint64_t deadline_ns_ = 0;
};

/// Claims `writer`'s next slot, waiting up to `timeout` in waits of at most kPollPeriod and
/// looking at the stop flag between them (the writer's eviction timers carry over). Counts in
/// `*waits` (when given) each wait that ended without a slot: how often the ring was full.
/// Allocates nothing.
[[nodiscard]] std::expected<ring::WritableSlot, ClaimEnd> claim(ring::RingWriter& writer,
                                                                 std::chrono::nanoseconds timeout,
                                                                 std::uint64_t* waits = nullptr) noexcept;

/// Refuses, before the first frame, a ring whose pixel format `stage` cannot show or use:
/// throws ConfigError "<stage>: ring '<ring>' holds <format> frames; <stage> takes <takes>".
/// `takes` says what it takes and, where it matters, why ("Mono8..Mono16 and Bayer (shown
/// raw)"). Does nothing when `accepted` holds.
void require_pixel_format(const ring::Segment& segment, std::string_view stage, bool accepted, std::string_view takes);

/// A rate cap's wait (never a synchronisation): sleeps until `due_ns` (CLOCK_MONOTONIC), but at
/// most kPollPeriod so that the caller looks at the stop flag again. Returns whether `due_ns`
/// has come; false means: look at the stop flag and call again.
bool wait_until(std::uint64_t due_ns) noexcept;

/// Frames and bytes over a span of time.
struct Throughput {
  std::uint64_t frames = 0;
  std::uint64_t bytes = 0;
  double seconds = 0;
  /// 0 over an empty span.
  [[nodiscard]] double frames_per_s() const noexcept;
  /// 0 over an empty span.
  [[nodiscard]] double bytes_per_s() const noexcept;
};

/// A stage's count of the frames it handled (and their bytes), the info line it logs once per
/// interval, and the totals its summary gives. One thread; no allocation but the log line.
///
/// The line reads "<verb> 200 frames in 5.0 s (40.0 frames/s[, 1.2 MB/s]); <details>": the
/// rates over the interval that just ended, then what the stage adds.
class RateReport {
 public:
  /// `verb` says what the stage did with each frame counted, in the past tense ("published",
  /// "processed", "recorded", "sent", "shown"). `interval` 0 or less: never a line. The first
  /// interval and the totals start at `start_ns` (CLOCK_MONOTONIC).
  RateReport(std::string verb, std::chrono::nanoseconds interval, std::uint64_t start_ns = monotonic_ns());

  /// Counts `frames` more frames, holding `bytes` bytes in all.
  void count(std::uint64_t frames = 1, std::uint64_t bytes = 0) noexcept;

  /// Frames counted since the start.
  [[nodiscard]] std::uint64_t frames() const noexcept { return counted_.frames; }

  /// Everything counted from the start to `now_ns`.
  [[nodiscard]] Throughput total(std::uint64_t now_ns = monotonic_ns()) const noexcept;

  /// When the interval has passed at `now_ns`: what was counted in it, and a new one starts.
  [[nodiscard]] std::optional<Throughput> take_interval(std::uint64_t now_ns) noexcept;

  /// The info line for `interval` (see the class comment); no "; " when `details` is empty.
  [[nodiscard]] std::string line(const Throughput& interval, std::string_view details) const;

  /// take_interval(now_ns), and when an interval ended, logs its line at info; `details()`
  /// (returning the stage's part of the line) is called only then.
  template <class Details>
  void log_if_due(Details&& details, std::uint64_t now_ns = monotonic_ns()) {
    if (const auto interval = take_interval(now_ns)) log(line(*interval, details()));
  }

 private:
  struct Count {
    std::uint64_t frames = 0;
    std::uint64_t bytes = 0;
  };
  static void log(const std::string& line);

  std::string verb_;
  std::uint64_t interval_ns_ = 0;
  std::uint64_t start_ns_ = 0;
  std::uint64_t interval_start_ns_ = 0;
  Count counted_;            ///< since the start
  Count at_interval_start_;  ///< counted_ when the current interval began
};

/// A consumer's counters for a log line: "read 120, skipped 30, torn 0", and ", lost 5 in 1
/// gaps" when it lost frames.
[[nodiscard]] std::string describe(const ring::ConsumerCounters& counters);

/// Prints `summary` as one JSON line on stdout and flushes it: what a stage leaves for the
/// supervisor and tests at exit (the log goes to stderr).
void print_summary(const nlohmann::json& summary);

}  // namespace framering::stage
