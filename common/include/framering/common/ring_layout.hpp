// ring_layout.hpp: the types that live in a ring's shared-memory segment. Plain data only:
// trivially copyable, fixed size, offsets instead of pointers (each process maps the segment at
// its own address). Atomic access goes through std::atomic_ref on these plain fields; the
// comment next to each field names who writes it and which access pairs with which.
//
// Segment layout (docs/ring-layout.md has it byte by byte):
//
//   0                     SegmentHeader     256 B, immutable once `magic` is set
//   control_offset        ProducerControl   5 cache lines
//   consumers_offset      ConsumerEntry[max_consumers], 320 B each
//   frame_headers_offset  FrameHeader[slot_count], 64 B each (the per-slot seqlock + metadata)
//   slots_offset          slot 0 pixels | slot 1 pixels | ... each slot_stride_bytes apart
//
// Frame metadata sits in its own table rather than in front of the pixels so that every slot
// is nothing but pixels starting on a 4096-byte page: FFTW can use it in place, and record can
// hand it to an O_DIRECT write() without a copy.
//
// Sequence s lives in slot s % slot_count. Bump kLayoutVersion whenever any field's size,
// offset or meaning changes.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace framering::ring {

/// Atomic access to a field of a segment type (they hold plain integers so that they stay
/// trivially copyable). The mapping is always read-write, so a const view is only this
/// caller's promise not to store through it.
template <class T>
[[nodiscard]] std::atomic_ref<T> at(const T& field) noexcept {
  return std::atomic_ref<T>(const_cast<T&>(field));
}

/// "FRAMERNG" as 8 ASCII bytes; read as a little-endian uint64.
inline constexpr std::uint64_t kMagic = 0x474E52454D415246ULL;
inline constexpr std::uint32_t kLayoutVersion = 2;
inline constexpr std::uint32_t kMaxConsumers = 64;
inline constexpr std::size_t kNameBytes = 48;          ///< ring name, NUL-terminated
inline constexpr std::size_t kConsumerNameBytes = 32;  ///< consumer name, NUL-terminated

/// Fixed description of the segment, written once by the creator. `magic` is stored last with
/// release order; a reader that loads it with acquire and finds kMagic may read every other
/// field without atomics.
struct alignas(64) SegmentHeader {
  std::uint64_t magic;           ///< kMagic once initialised; 0 while the creator fills it in
  std::uint32_t layout_version;  ///< kLayoutVersion
  std::uint32_t header_bytes;    ///< sizeof(SegmentHeader)
  std::uint64_t segment_bytes;   ///< total mapped size the creator truncated the segment to
  std::uint64_t segment_id;      ///< random per creation: tells a recreated segment from the old one
  std::uint64_t created_realtime_ns;  ///< CLOCK_REALTIME ns since the Unix epoch
  // Geometry.
  std::uint32_t width;            ///< pixels per row
  std::uint32_t height;           ///< rows
  std::uint32_t pixel_format;     ///< PFNC code (PixelFormat)
  std::uint32_t bytes_per_pixel;  ///< 1, 2 or 3 (RGB8/BGR8)
  char pixel_format_name[16];     ///< PFNC name, NUL-terminated ("Mono16")
  std::uint64_t stride_bytes;     ///< bytes from one row start to the next
  std::uint64_t frame_bytes;      ///< stride_bytes * height
  std::uint32_t slot_count;       ///< slots in the ring
  std::uint32_t max_consumers;    ///< entries in the consumer table
  std::uint64_t slot_stride_bytes;     ///< bytes between slot starts; multiple of slot_alignment_bytes
  std::uint64_t slot_alignment_bytes;  ///< 4096
  // Block offsets from the segment start.
  std::uint64_t control_offset;
  std::uint64_t consumers_offset;
  std::uint64_t frame_headers_offset;
  std::uint64_t slots_offset;
  std::uint32_t consumer_entry_bytes;  ///< sizeof(ConsumerEntry)
  std::uint32_t frame_header_bytes;    ///< sizeof(FrameHeader)
  std::uint32_t permissions;           ///< mode bits the segment was created with (0600, 0660)
  /// Samples (channels) per pixel: 3 for RGB8/BGR8, 1 for Mono and Bayer. 0 in segments made
  /// before it existed (read as 1); the PFNC code says the same (pixel_format.hpp).
  std::uint32_t samples_per_pixel;
  char ring_name[kNameBytes];          ///< "raw", NUL-terminated
  std::uint8_t reserved[48];
};

/// The producer's block. Each group sits on its own cache line so that consumers polling
/// `published` never share a line with fields the producer rewrites for other reasons.
struct alignas(64) ProducerControl {
  struct alignas(64) Cursor {
    /// Frames published so far; the next frame gets sequence `published`. Producer: store
    /// seq_cst after the slot's seqlock is even (pairs with the acquire/seq_cst loads in
    /// RingReader and with the Ready handshake). Never decreases for the life of the segment.
    std::uint64_t published;
  } cursor;

  struct alignas(64) Identity {
    std::uint32_t pid;       ///< producer pid; 0 = none attached
    std::uint32_t attached;  ///< 1 while a producer is attached (cleared on clean detach)
    std::uint64_t start_time_ticks;  ///< /proc/<pid>/stat field 22: tells pid reuse apart
    std::uint64_t heartbeat_ns;      ///< CLOCK_MONOTONIC ns of the producer's last claim/publish
    std::uint64_t attach_count;      ///< producers that attached over the segment's life (restarts = n-1)
  } identity;

  struct alignas(64) Space {
    /// Futex word the producer sleeps on when a gating consumer holds the slot it needs.
    /// Consumers fetch_add + FUTEX_WAKE it after advancing their cursor when `producer_waiting`.
    std::uint32_t space_word;
    /// 1 while the producer is about to wait on space_word (seq_cst: Dekker with the consumer's
    /// seq_cst cursor store).
    std::uint32_t producer_waiting;
  } space;

  struct alignas(64) Stats {
    std::uint64_t frames_dropped;    ///< frames the producer discarded (source drops, DropOldest)
    std::uint64_t evictions;         ///< gating consumers the producer evicted
    std::uint64_t blocked_ns;        ///< total CLOCK_MONOTONIC ns spent waiting for gating consumers
    std::uint64_t rate_milli_fps;    ///< publish rate over the last ~second, in frames/s * 1000
  } stats;
  /// What the source (a camera, a stream) reports it lost before anything reached the ring.
  /// Producer only, relaxed stores; totals over the producer's life (a restarted producer
  /// starts from what it finds). All zero for sources that cannot lose frames (pattern, files).
  struct alignas(64) SourceStats {
    std::uint64_t frames_lost;        ///< source frames that never reached the ring (sum of FrameHeader::source_frames_lost)
    std::uint64_t frames_incomplete;  ///< frames the source delivered damaged (missing packets) and the producer discarded
    std::uint64_t frames_timed_out;   ///< frames the source started but did not finish in time
    std::uint64_t underruns;          ///< frames the source dropped for want of a free buffer
    std::uint64_t packets_missing;    ///< network packets never received (GigE Vision GVSP)
    std::uint64_t packets_resent;     ///< packets the camera had to resend
    std::uint64_t outages;            ///< times the source disappeared (cable, power, crash)
    std::uint64_t connected;          ///< 1 while the source delivers, 0 while it is away
  } source;
};

/// Consumer kinds (DESIGN.md, "Two kinds of consumer").
enum class ConsumerKind : std::uint32_t {
  Newest = 1,  ///< gets the newest frame, never gates the producer, may skip
  Every = 2,   ///< gets every frame in order; the producer never overwrites past its cursor
};

/// Life of a consumer entry. Transitions: Free -> Claiming (consumer CAS) -> Active;
/// Active -> Evicted (producer CAS); Evicted -> Active (the consumer rejoins);
/// any -> Free (clean detach, or reclaim of a dead participant's entry).
enum class ConsumerState : std::uint32_t { Free = 0, Claiming = 1, Active = 2, Evicted = 3 };

/// One consumer's entry (320 B). Line 0 is the hot path; then identity (2 lines), counters,
/// and the line only the producer writes.
struct alignas(64) ConsumerEntry {
  struct alignas(64) Hot {
    /// Every: the next sequence it will read; all below are released and may be overwritten.
    /// Newest: the oldest sequence it would still take (last returned + 1; at attach, the
    /// newest published one). Consumer stores seq_cst (Dekker with `producer_waiting`).
    std::uint64_t cursor;
    /// 1 while the consumer waits for a newer frame. The producer, after publishing, exchanges
    /// it to 0 and wakes `wake_word`; consumers not Ready cost the producer no syscall.
    std::uint32_t ready;
    /// Futex word the consumer sleeps on; the producer increments it before FUTEX_WAKE.
    std::uint32_t wake_word;
    std::uint64_t heartbeat_ns;  ///< CLOCK_MONOTONIC ns of the consumer's last read or wait
  } hot;

  struct alignas(64) Identity {  // written by the consumer at attach
    std::uint32_t state;  ///< ConsumerState
    std::uint32_t kind;   ///< ConsumerKind
    std::uint32_t pid;
    std::uint32_t attach_count;  ///< times a process attached under this name
    std::uint64_t start_time_ticks;  ///< /proc/<pid>/stat field 22
    /// Every: the producer evicts this consumer once it has waited this long for it with no
    /// progress while the process is alive; 0 = never evict a live one.
    std::uint64_t stall_timeout_ns;
    /// Every: the producer evicts this consumer once it has waited this long for it after
    /// finding its process dead: the window a restarted consumer has to resume at its cursor.
    std::uint64_t dead_timeout_ns;
    char name[kConsumerNameBytes];  ///< unique in the ring, NUL-terminated
    /// Publish -> read latency of the last LatencyWindow::kFrames frames it read, in ns
    /// (nearest-rank percentiles), and how many frames they are over (0: none yet). Written by
    /// the consumer (relaxed stores) at most every 100 ms while it reads, and when it waits.
    struct Latency {
      std::uint64_t p50_ns;
      std::uint64_t p99_ns;
      std::uint64_t max_ns;
      std::uint64_t frames;
    } latency;
    std::uint8_t reserved[24];
  } identity;

  struct alignas(64) Counters {  // written by the consumer only
    std::uint64_t frames_read;     ///< frames returned intact
    std::uint64_t frames_skipped;  ///< Newest: published frames it did not take (not loss)
    std::uint64_t frames_torn;     ///< reads the seqlock rejected (never returned as good)
    std::uint64_t gaps;            ///< Every: runs of frames lost
    std::uint64_t frames_lost;     ///< Every: frames in those gaps
    std::uint64_t last_gap_first;  ///< Every: most recent gap, inclusive
    std::uint64_t last_gap_last;
    std::uint64_t rate_milli_fps;  ///< read rate over the last ~second, frames/s * 1000
  } counters;

  struct alignas(64) ProducerSide {  // written by the producer only
    std::uint64_t evictions;          ///< times the producer evicted this entry
    std::uint64_t evicted_at_cursor;  ///< its cursor when last evicted
    std::uint64_t evicted_dead;       ///< 1 if the last eviction found the process dead
    std::uint64_t reserved;
  } producer_side;
};

/// Metadata of the frame in one slot, guarded by a seqlock (Boehm, "Can seqlocks get along with
/// programming language memory models?", MSPC 2012).
struct alignas(64) FrameHeader {
  /// 0: never written; 2s+1: the producer is writing sequence s; 2s+2: the slot holds
  /// sequence s, complete. Producer: relaxed store of 2s+1, release fence, write, release store
  /// of 2s+2. Reader: acquire load (v1), read, acquire fence, relaxed load (v2); intact iff
  /// v1 == v2 == 2s+2.
  std::uint64_t seqlock;
  std::uint64_t sequence;              ///< s
  std::uint64_t timestamp_ns;          ///< CLOCK_REALTIME ns since the Unix epoch, when acquired
  std::uint64_t publish_monotonic_ns;  ///< CLOCK_MONOTONIC ns just before publication
  std::uint64_t camera_frame_id;       ///< the source's own frame counter
  std::uint32_t width;                 ///< equal to the geometry's (room for regions later)
  std::uint32_t height;
  std::uint32_t pixel_format;          ///< PFNC code
  /// The generation of the run's live settings that produced this frame (docs/http-api.md,
  /// "Live parameters"): 0 = the settings the stages started with; each change a stage on this
  /// frame's path acknowledged raises it. A producer stamps max(its own, its input frame's).
  /// Was `flags` (reserved, 0) before: frames of older writers read as generation 0.
  std::uint32_t settings_generation;
  /// Source frames lost just before this one (a camera frame-id gap, a failed buffer, an
  /// outage); 0 normally. Not ring loss: the ring's sequence has no hole there.
  std::uint64_t source_frames_lost;
};

// ---- the layout, proved ------------------------------------------------------------------------
static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic_ref<std::uint32_t>::is_always_lock_free);
static_assert(std::atomic_ref<std::uint64_t>::required_alignment <= alignof(std::uint64_t));

static_assert(std::is_trivially_copyable_v<SegmentHeader> && std::is_standard_layout_v<SegmentHeader>);
static_assert(sizeof(SegmentHeader) == 256 && alignof(SegmentHeader) == 64);
static_assert(offsetof(SegmentHeader, magic) == 0);
static_assert(offsetof(SegmentHeader, layout_version) == 8);
static_assert(offsetof(SegmentHeader, width) == 40);
static_assert(offsetof(SegmentHeader, pixel_format_name) == 56);
static_assert(offsetof(SegmentHeader, slot_count) == 88);
static_assert(offsetof(SegmentHeader, control_offset) == 112);
static_assert(offsetof(SegmentHeader, samples_per_pixel) == 156);
static_assert(offsetof(SegmentHeader, ring_name) == 160);

static_assert(std::is_trivially_copyable_v<ProducerControl> && std::is_standard_layout_v<ProducerControl>);
static_assert(sizeof(ProducerControl) == 320);
static_assert(offsetof(ProducerControl, cursor) == 0);
static_assert(offsetof(ProducerControl, identity) == 64);
static_assert(offsetof(ProducerControl, space) == 128);
static_assert(offsetof(ProducerControl, stats) == 192);
static_assert(offsetof(ProducerControl, source) == 256);

static_assert(std::is_trivially_copyable_v<ConsumerEntry> && std::is_standard_layout_v<ConsumerEntry>);
static_assert(sizeof(ConsumerEntry) == 320);
static_assert(offsetof(ConsumerEntry, hot) == 0);
static_assert(offsetof(ConsumerEntry, identity) == 64);
static_assert(offsetof(ConsumerEntry, counters) == 192);
static_assert(offsetof(ConsumerEntry, producer_side) == 256);
static_assert(offsetof(ConsumerEntry::Identity, name) == 40);
static_assert(offsetof(ConsumerEntry::Identity, latency) == 72);
static_assert(sizeof(ConsumerEntry::Identity) == 128);

static_assert(std::is_trivially_copyable_v<FrameHeader> && std::is_standard_layout_v<FrameHeader>);
static_assert(sizeof(FrameHeader) == 64 && alignof(FrameHeader) == 64);
static_assert(offsetof(FrameHeader, camera_frame_id) == 32);
static_assert(offsetof(FrameHeader, width) == 40);
static_assert(offsetof(FrameHeader, settings_generation) == 52);
static_assert(offsetof(FrameHeader, source_frames_lost) == 56);

}  // namespace framering::ring
