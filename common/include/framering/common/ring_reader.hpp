// ring_reader.hpp: a consumer's handle on a ring. Frames are read in place (zero-copy); every
// read ends with release(), which says whether what was read is intact.
//
// Two kinds (DESIGN.md, "Two kinds of consumer"):
//   Newest: read() returns the newest published frame that is newer than the last one it
//           returned; while there is none it is Ready and sleeps until the producer wakes it.
//           It never gates the producer; frames it did not take are counted as skipped.
//   Every:  read() returns every frame in order. The producer never overwrites a slot at or
//           after its cursor, unless it evicts this consumer (dead, or stalled past its
//           timeout); frames lost that way come back as FrameView::gap on the next read.
//
// Tearing: a Newest consumer can be lapped while it reads (the producer wraps the ring). The
// per-slot seqlock detects it: release() returns false, the torn read is counted, and the
// caller must discard whatever it derived from those pixels. A consumer that needs a stable
// copy copies, then releases, and keeps the copy only if release() returned true.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "framering/common/latency_window.hpp"
#include "framering/common/rate_window.hpp"
#include "framering/common/segment.hpp"
#include "framering/common/wait_strategy.hpp"

namespace framering::ring {

/// How a consumer attaches.
struct ReaderOptions {
  /// Unique in the ring; a restarted consumer with the same name resumes its entry (and, for
  /// Every, its cursor). Empty: "<kind>-<pid>". 1..31 bytes of [A-Za-z0-9_-].
  std::string name;
  ConsumerKind kind = ConsumerKind::Newest;
  /// Every: the producer evicts this consumer after waiting this long for it while it is alive
  /// and makes no progress. 0 = never.
  std::chrono::nanoseconds stall_timeout = std::chrono::seconds{10};
  /// Every: the producer evicts this consumer this long after finding its process dead: the
  /// window a restarted consumer has to resume without loss.
  std::chrono::nanoseconds dead_timeout = std::chrono::seconds{2};
  /// When set, the ring must have this width, height, format and stride (and slot count if
  /// non-zero), or attach throws.
  std::optional<RingGeometry> expected;
  /// How long to wait for the producer to create the ring before failing.
  std::chrono::milliseconds wait_for_segment{0};
  /// How read() (and read_ahead()) wait once nothing newer is published: wait_strategy.hpp.
  /// Process-local: the producer's side of the protocol is the same for every strategy.
  WaitStrategy wait = kDefaultWaitStrategy;
  /// The bounds of the polling of WaitStrategy::Spin and WaitStrategy::Deadline (each clamped
  /// to kMaxSpin at attach).
  WaitTuning wait_tuning;
};

/// Frames lost between two reads of an Every consumer: sequences first..last inclusive.
struct Gap {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  [[nodiscard]] std::uint64_t count() const noexcept { return last - first + 1; }
  friend bool operator==(const Gap&, const Gap&) = default;
};

/// One frame, read in place. A view: it owns nothing and is valid until release(). Its pixels
/// are height rows of `stride_bytes`, little-endian, in `pixel_format`.
struct FrameView {
  std::uint64_t sequence = 0;
  std::uint64_t timestamp_ns = 0;          ///< CLOCK_REALTIME ns since the Unix epoch
  std::uint64_t publish_monotonic_ns = 0;  ///< CLOCK_MONOTONIC ns when published
  std::uint64_t camera_frame_id = 0;
  std::uint64_t source_frames_lost = 0;    ///< source frames lost just before this one (not ring loss)
  std::uint32_t settings_generation = 0;   ///< the live settings that produced it (FrameHeader)
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  PixelFormat pixel_format = PixelFormat::Mono16;
  std::uint64_t stride_bytes = 0;
  std::span<const std::byte> pixels;  ///< height * stride_bytes bytes, 4096-byte aligned
  std::optional<Gap> gap;             ///< Every: frames lost just before this one
  std::uint32_t slot = 0;             ///< where it lives; sequence % slot_count
  std::uint64_t seqlock = 0;          ///< the seqlock value it was read under

  /// Row `y` as `T` (uint16_t for the 16-bit formats, uint8_t for the 8-bit ones): its samples,
  /// width * samples_per_pixel elements (RGB8: R, G, B of pixel 0, then of pixel 1, ...).
  template <class T>
  [[nodiscard]] std::span<const T> row(std::uint32_t y) const noexcept {
    return {reinterpret_cast<const T*>(pixels.data() + std::uint64_t{y} * stride_bytes),
            std::size_t{width} * samples_per_pixel(pixel_format)};
  }
};

enum class ReadError {
  Timeout,  ///< no frame within the timeout (the producer may be slow, paused or gone)
};

/// Counters of this consumer, as stored in its entry.
struct ConsumerCounters {
  std::uint64_t frames_read = 0;
  std::uint64_t frames_skipped = 0;
  std::uint64_t frames_torn = 0;
  std::uint64_t gaps = 0;
  std::uint64_t frames_lost = 0;
  std::uint64_t evictions = 0;
};

/// Consumer handle. One thread reads and releases. Move-only; detaching frees the entry.
class RingReader {
 public:
  /// Opens the ring and takes an entry in its consumer table: the entry with this name if it
  /// exists and its process is dead (resuming its cursor), else a free one (a new Every
  /// consumer starts at the next frame to be published). Throws SegmentError when the ring
  /// cannot be opened (Segment::open), the name is invalid or held by a live process, the kind
  /// differs from that entry's, or the table is full of live consumers.
  [[nodiscard]] static RingReader attach(std::string_view instance, std::string_view ring,
                                         const ReaderOptions& options);

  RingReader(RingReader&&) noexcept;
  RingReader& operator=(RingReader&&) = delete;
  RingReader(const RingReader&) = delete;
  RingReader& operator=(const RingReader&) = delete;
  ~RingReader();

  /// The next frame for this consumer's kind (see the file comment), waiting up to `timeout`.
  /// Every: until release() it returns the same frame again. Allocates nothing.
  [[nodiscard]] std::expected<FrameView, ReadError> read(std::chrono::nanoseconds timeout) noexcept;

  /// Ends a read. Returns true when the frame was intact for the whole read (the seqlock did
  /// not move), false when the producer overwrote it meanwhile: the read is counted as torn
  /// and, for an Every consumer, the frame as lost (reported in the next gap). Every: moves
  /// the cursor past the frame, which lets the producer reuse its slot.
  [[nodiscard]] bool release(const FrameView& frame) noexcept;

  /// Every: frame `sequence` (at or after cursor()) without moving the cursor, waiting up to
  /// `timeout` for it to be published: for a consumer that keeps several frames in flight (the
  /// bridge sends ahead and releases on acknowledgement). The producer never overwrites a frame
  /// at or after the cursor, so each stays intact until release_until() passes it, unless this
  /// consumer is evicted. nullopt on timeout, or when the frame is not there (published() >
  /// `sequence` then: it was skipped or, after an eviction, overwritten): read() at the cursor
  /// then reports what was lost, as a gap. Check is_intact() after copying. Allocates nothing.
  [[nodiscard]] std::optional<FrameView> read_ahead(std::uint64_t sequence, std::chrono::nanoseconds timeout) noexcept;
  /// Every: ends the reads of every frame before `next` (cursor() <= next <= published()),
  /// counting them read, and moves the cursor to `next`: the producer may reuse their slots. A
  /// gap read() reported at the old cursor counts as delivered. No effect for next <= cursor().
  void release_until(std::uint64_t next) noexcept;
  /// Whether the frame is still intact now (release() without releasing).
  [[nodiscard]] bool is_intact(const FrameView& frame) const noexcept;

  /// Newest: forget every frame published so far, so that the next read() waits for a frame
  /// published after this call. The frames passed over count as skipped.
  void skip_to_now() noexcept;

  [[nodiscard]] ConsumerCounters counters() const noexcept;
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] ConsumerKind kind() const noexcept { return kind_; }
  /// How this reader waits (ReaderOptions::wait).
  [[nodiscard]] WaitStrategy wait_strategy() const noexcept { return wait_; }
  /// What this reader's waits did so far (this process only).
  [[nodiscard]] const WaitStats& wait_stats() const noexcept { return wait_stats_; }
  /// True when this reader took over a dead consumer's entry with the same name.
  [[nodiscard]] bool resumed() const noexcept { return resumed_; }
  /// Every: the next sequence it will read.
  [[nodiscard]] std::uint64_t cursor() const noexcept { return cursor_; }
  [[nodiscard]] const Segment& segment() const noexcept { return segment_; }
  [[nodiscard]] bool is_producer_alive() const noexcept;

  /// Frames the producer has published so far (Segment::published): with cursor(), what an
  /// Every consumer still has to read, e.g. to drain the ring before it stops.
  [[nodiscard]] std::uint64_t published() const noexcept;

 private:
  RingReader(Segment segment, std::uint32_t index, const ReaderOptions& options, std::string name, bool resumed);
  [[nodiscard]] ConsumerEntry& entry() const noexcept { return segment_.consumer(index_); }
  [[nodiscard]] std::expected<FrameView, ReadError> read_newest(std::uint64_t deadline_ns) noexcept;
  [[nodiscard]] std::expected<FrameView, ReadError> read_every(std::uint64_t deadline_ns) noexcept;
  bool try_view(std::uint64_t sequence, FrameView& out) const noexcept;
  // Waits, as wait_ says, until `published` > after_published, the read's deadline, or a
  // spurious return (the caller re-checks in a loop).
  void wait_for_publication(std::uint64_t after_published, std::uint64_t deadline_ns) noexcept;
  // The futex part of every strategy: Ready, re-check, FUTEX_WAIT until `until_ns` at most.
  void sleep_until_woken(std::uint64_t after_published, std::uint64_t until_ns) noexcept;
  // Polls `published` (and, for Every, an eviction) until `until_ns`; true when it moved past
  // after_published or the consumer was evicted, false when the time ran out.
  bool poll_for_publication(std::uint64_t after_published, std::uint64_t until_ns) noexcept;
  // The deadline strategy's plan for a wait for frame `after_published`, or nullopt (no
  // estimate yet, or the frame is overdue). Feeds the newest frame's publish time to estimator_.
  std::optional<DeadlinePlan> plan_deadline(std::uint64_t after_published, std::uint64_t now_ns) noexcept;
  void rejoin() noexcept;
  void lose(std::uint64_t first, std::uint64_t last) noexcept;
  void store_cursor(std::uint64_t cursor) noexcept;
  // Adds a frame just read to the latency window; stores the figures in the entry at most every
  // kLatencyStorePeriodNs (and whenever the reader finds no frame: store_latency).
  void note_latency(const FrameView& frame) noexcept;
  void store_latency(std::uint64_t now_ns) noexcept;
  static constexpr std::uint64_t kLatencyStorePeriodNs = 100'000'000;

  Segment segment_;
  std::uint32_t index_ = 0;
  ConsumerKind kind_ = ConsumerKind::Newest;
  std::string name_;
  bool resumed_ = false;
  bool moved_from_ = false;
  std::uint32_t slot_count_ = 0;
  std::uint64_t cursor_ = 0;            ///< next sequence wanted
  std::optional<Gap> pending_gap_;      ///< lost frames not yet reported to the caller
  RateWindow rate_;
  LatencyWindow latency_;
  std::uint64_t latency_stored_ns_ = 0;
  WaitStrategy wait_ = kDefaultWaitStrategy;
  WaitTuning wait_tuning_;
  PublishPeriodEstimator estimator_;  ///< deadline only: the producer's period
  WaitStats wait_stats_;
};

/// Attaches like RingReader::attach, but first waits for the ring's producer to create the
/// segment (a consumer started before its producer, as `framering run` does): see
/// open_when_created. Returns nullopt when `wait.should_stop` says so while waiting
/// (SIGINT/SIGTERM). Throws SegmentError naming the segment path and `wait.option` when the
/// ring does not appear within `wait.timeout`, and every error RingReader::attach throws.
[[nodiscard]] std::optional<RingReader> attach_when_created(std::string_view instance, std::string_view ring,
                                                            const ReaderOptions& options, const CreationWait& wait);

}  // namespace framering::ring
