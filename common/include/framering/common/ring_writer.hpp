// ring_writer.hpp: the producer's handle on a ring. One producer per ring: it claims a slot,
// writes pixels straight into it (zero-copy) and publishes it. It never overwrites a slot that
// an attached *every* consumer has not released: it waits, and evicts that consumer once it is
// dead or stalled past its timeout (DESIGN.md, "The frame ring", promises 3-7).
//
// Claims ahead: besides the next sequence, the producer may hold claims on the sequences after
// it (claim_at), so that a driver that fills several buffers at once (Aravis' stream thread)
// can be lent ring slots. Frames are still published in sequence order, one at a time:
//
//   published ... | next_sequence() | next + 1 | ... | next + claim_window() - 1 | (never claimed)
//    readable        claimed or free, each gated      the slot of next - 1 (the newest frame) is
//                    exactly as claim() gates it      never claimed, so a newest reader has it whole
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <thread>

#include "framering/common/rate_window.hpp"
#include "framering/common/segment.hpp"

namespace framering::ring {

/// How a producer attaches.
struct WriterOptions {
  Access access = Access::Private;
  /// When an existing segment has another geometry and none of its participants is alive (a
  /// crashed run), remove it and create a fresh one. false: throw instead.
  bool replace_stale = true;
};

/// Per-frame metadata the producer supplies at publish.
struct FrameMetadata {
  std::uint64_t timestamp_ns = 0;     ///< CLOCK_REALTIME ns when acquired; 0 = now
  std::uint64_t camera_frame_id = 0;  ///< the source's own frame counter
  /// Source frames lost just before this one (camera frame-id gap, failed buffer, outage).
  /// Added to the producer's SourceStats::frames_lost as well.
  std::uint64_t source_frames_lost = 0;
  /// Frames the producer itself dropped just before this one (a claim timeout, an unreadable
  /// file), already counted by count_dropped(): added to the frame header's
  /// source_frames_lost (so a reader sees every frame that never reached the ring), not to
  /// SourceStats::frames_lost.
  std::uint64_t dropped_before = 0;
  /// The generation of the live settings that produced this frame (FrameHeader::settings_generation).
  std::uint32_t settings_generation = 0;
};

/// A claimed slot: write `pixels` (height rows, `stride_bytes` apart), then publish().
struct WritableSlot {
  std::uint64_t sequence = 0;   ///< the sequence this frame will be published as
  std::uint32_t slot = 0;       ///< sequence % slot_count
  std::span<std::byte> pixels;  ///< frame_bytes, 4096-byte aligned
};

enum class ClaimError {
  Timeout,  ///< an every consumer held the slot for the whole timeout (and was not evictable yet)
};

/// The sentinel is_claimed() uses for a slot nobody claimed.
inline constexpr std::uint64_t kNoClaim = UINT64_MAX;

/// Producer handle. Single-threaded: one thread claims and publishes. Move-only.
class RingWriter {
 public:
  /// Creates the ring, or re-attaches to a compatible one and continues its sequence.
  /// Throws SegmentError when: the name is invalid; the segment cannot be created or opened
  /// (permission, truncated, foreign magic, other layout version); it has another geometry and
  /// a live participant (or replace_stale is false); another live process is its producer.
  [[nodiscard]] static RingWriter create_or_attach(std::string_view instance, std::string_view ring,
                                                   const RingGeometry& geometry, const WriterOptions& options = {});

  RingWriter(RingWriter&&) noexcept;
  RingWriter& operator=(RingWriter&&) = delete;
  RingWriter(const RingWriter&) = delete;
  RingWriter& operator=(const RingWriter&) = delete;
  /// Detaches (the segment stays, for consumers and a later producer).
  ~RingWriter();

  /// Claims the slot for the next sequence, waiting up to `timeout` while an every consumer
  /// still holds it, and evicting that consumer when its process is dead past its
  /// dead_timeout or it made no progress for its stall_timeout. Calling it again before
  /// publish() returns the same slot. Allocates nothing. Same as claim_at(next_sequence()).
  [[nodiscard]] std::expected<WritableSlot, ClaimError> claim(std::chrono::nanoseconds timeout) noexcept {
    return claim_at(next_, timeout);
  }

  /// claim() that never waits.
  [[nodiscard]] std::expected<WritableSlot, ClaimError> try_claim() noexcept { return claim(std::chrono::nanoseconds{0}); }

  /// Claims the slot of `sequence`, which may lie ahead of the next one to publish:
  /// next_sequence() <= sequence < next_sequence() + claim_window() (anything else is a
  /// producer bug: logged, then std::abort()). Gating, waiting and eviction are claim()'s, for
  /// this sequence: the slot is given only when every every-consumer has released the frame
  /// `sequence - slot_count` that it held. A claimed slot is marked being-written (seqlock
  /// 2s+1), so a reader never takes what it held before as intact. Claiming an already claimed
  /// sequence returns its slot again at once. Claims stay until that sequence is published
  /// (publish() takes them in order); a producer that ends with claims outstanding leaves those
  /// slots unreadable, and the next producer claims them again. Allocates nothing.
  [[nodiscard]] std::expected<WritableSlot, ClaimError> claim_at(std::uint64_t sequence,
                                                                 std::chrono::nanoseconds timeout) noexcept;

  /// claim_at() that never waits (it may still evict a consumer whose timeout has run out).
  [[nodiscard]] std::expected<WritableSlot, ClaimError> try_claim_at(std::uint64_t sequence) noexcept {
    return claim_at(sequence, std::chrono::nanoseconds{0});
  }

  /// Whether `sequence` is claimed (by claim() or claim_at()) and not yet published.
  [[nodiscard]] bool is_claimed(std::uint64_t sequence) const noexcept {
    return claims_ != nullptr && claims_[sequence % slot_count_] == sequence;
  }
  /// How many sequences are claimed now (0 .. claim_window()).
  [[nodiscard]] std::uint32_t claimed_count() const noexcept { return claimed_count_; }
  /// How many sequences, from next_sequence() on, may be claimed at once: slot_count - 1, so
  /// that the newest published frame's slot is never claimed.
  [[nodiscard]] std::uint32_t claim_window() const noexcept { return slot_count_ - 1; }

  /// Publishes sequence next_sequence(), whose slot must be claimed, and wakes the consumers
  /// that are Ready. Claims ahead of it stay. Publishing without that claim is a producer bug
  /// (logged, then std::abort()).
  void publish(const FrameMetadata& metadata = {}) noexcept;

  /// The metadata this ring's newest published frame carries (sequence next_sequence() - 1),
  /// as its producer wrote it; nullopt when nothing was published or that frame's slot does not
  /// hold it whole (it was skipped, or a producer died writing it). For a producer that
  /// re-attaches and must not publish again what it published before it died (process: the
  /// input sequence each output frame came from is its camera_frame_id).
  [[nodiscard]] std::optional<FrameMetadata> last_published() const noexcept;

  /// Continues the sequence at `sequence` (>= next_sequence(), no slot claimed at all) without
  /// publishing the frames before it: they were lost upstream (a bridge receiving a gap, or
  /// starting a far ring at the near ring's sequence). An every consumer reports them as a gap
  /// with exact bounds on its next read; a newest consumer passes over them. Writes no slot:
  /// a skipped sequence's slot never holds its seqlock value 2s+2 (docs/ring-layout.md §9).
  void skip_to(std::uint64_t sequence) noexcept;

  /// Waits until at least `count` consumers are attached (any kind), so that a bounded run
  /// does not publish its first frames before the pipeline's consumers exist. Returns whether
  /// they came within `timeout`; also returns (false) at SIGINT/SIGTERM when `should_stop` says
  /// so. Polls the consumer table every 5 ms: start-up only, never the frame path.
  [[nodiscard]] bool wait_for_consumers(std::uint32_t count, std::chrono::milliseconds timeout,
                                        bool (*should_stop)() = nullptr) const;

  /// Counts frames the producer discarded (a source drop, or a frame not claimed in time).
  void count_dropped(std::uint64_t frames) noexcept;
  /// Adds to SourceStats::frames_lost what the source lost before frames that were then dropped
  /// and that no published frame carries (drops after the last one published).
  void count_source_lost(std::uint64_t frames) noexcept;

  /// Stores the source's loss counters (totals) for `framering status` and the run summary.
  /// `frames_lost` is ignored: publish() keeps it from FrameMetadata::source_frames_lost.
  void set_source_stats(const ProducerControl::SourceStats& stats) noexcept;
  /// The source counters as stored in the segment (a restarted producer continues from them).
  [[nodiscard]] ProducerControl::SourceStats source_stats() const noexcept;

  /// The sequence the next claim gets (= frames published over the segment's life).
  [[nodiscard]] std::uint64_t next_sequence() const noexcept { return next_; }
  /// True when this writer continued an existing segment instead of creating it.
  [[nodiscard]] bool reattached() const noexcept { return reattached_; }
  [[nodiscard]] const Segment& segment() const noexcept { return segment_; }

  /// Total ns producers of this ring (this one and those before it) spent waiting in claim()
  /// for every consumers to free a slot.
  [[nodiscard]] std::uint64_t blocked_ns() const noexcept;

 private:
  explicit RingWriter(Segment segment, bool reattached);
  [[nodiscard]] int find_blocking_consumer(std::uint64_t sequence) const noexcept;
  bool maybe_evict(int index, std::uint64_t now_ns) noexcept;
  void wake_ready_consumers() noexcept;

  Segment segment_;
  bool reattached_ = false;
  bool moved_from_ = false;
  // claims_[slot] = the sequence claimed in that slot, or kNoClaim; slot_count_ entries.
  std::unique_ptr<std::uint64_t[]> claims_;
  std::uint32_t claimed_count_ = 0;
  std::uint64_t next_ = 0;
  std::uint64_t frame_bytes_ = 0;
  std::uint32_t slot_count_ = 0;
  // Who the producer is waiting on, process-local: eviction timers start when it first waits
  // on a consumer at a given cursor.
  int blocked_index_ = -1;
  std::uint64_t blocked_cursor_ = 0;
  std::uint64_t blocked_since_ns_ = 0;
  std::uint64_t dead_since_ns_ = 0;
  std::uint64_t last_alive_check_ns_ = 0;
  RateWindow rate_;
};

}  // namespace framering::ring
