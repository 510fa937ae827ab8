// segment.hpp: one ring's POSIX shared-memory segment (Boost.Interprocess shared_memory_object
// + mapped_region): naming, creation, opening and the checks that make a segment trustworthy
// before anyone reads a cursor from it. RingWriter and RingReader are built on it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "framering/common/ring_geometry.hpp"
#include "framering/common/ring_layout.hpp"

namespace framering::ring {

/// Who may open a segment besides its creator's user.
enum class Access {
  Private,  ///< 0600 (the default)
  Group,    ///< 0660: the creator's group may attach too
};

/// A mapped, validated segment. Move-only; unmaps on destruction (never unlinks: a segment
/// outlives its processes so that a restarted producer or consumer can re-attach).
class Segment {
 public:
  /// "framering.<instance>.<ring>": the name under /dev/shm. Throws SegmentError when either
  /// part is empty, longer than 47 bytes, or holds anything but [A-Za-z0-9_-].
  [[nodiscard]] static std::string segment_name(std::string_view instance, std::string_view ring);

  /// Throws SegmentError naming `what` unless `value` is 1..47 bytes of [A-Za-z0-9_-].
  static void validate_name(std::string_view what, std::string_view value);

  /// Creates the segment for `geometry` (0600, or 0660 with Access::Group), exclusive: throws
  /// SegmentError when it exists already or cannot be created (the errno text and the path).
  [[nodiscard]] static Segment create(std::string_view instance, std::string_view ring,
                                      const RingGeometry& geometry, Access access);

  /// Opens an existing segment read-write: waits up to `wait_for` for it to exist, to be at
  /// least a header long and to have its magic set (a producer creating it), maps it, then
  /// checks its header with validate_header (magic, layout version, entry sizes, size against
  /// the header's, every block offset, and `expected` if given). Each failure throws
  /// SegmentError naming the segment and both sides.
  [[nodiscard]] static Segment open(std::string_view instance, std::string_view ring,
                                    std::optional<RingGeometry> expected = std::nullopt,
                                    std::chrono::milliseconds wait_for = std::chrono::milliseconds{0});

  /// Removes the name (mappings stay valid until unmapped). False when there was none.
  static bool remove(std::string_view instance, std::string_view ring) noexcept;

  /// Ring names of every segment of `instance` in /dev/shm, sorted.
  [[nodiscard]] static std::vector<std::string> list_rings(std::string_view instance);

  Segment(Segment&&) noexcept;
  Segment& operator=(Segment&&) noexcept;
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;
  ~Segment();

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] const std::string& ring_name() const noexcept { return ring_; }
  [[nodiscard]] RingGeometry geometry() const noexcept;

  /// The header: immutable once its magic is set, which open() has checked.
  [[nodiscard]] const SegmentHeader& header() const noexcept { return *reinterpret_cast<const SegmentHeader*>(base_); }
  [[nodiscard]] ProducerControl& control() const noexcept {
    return *reinterpret_cast<ProducerControl*>(base_ + header().control_offset);
  }
  [[nodiscard]] ConsumerEntry& consumer(std::uint32_t index) const noexcept {
    return reinterpret_cast<ConsumerEntry*>(base_ + header().consumers_offset)[index];
  }
  [[nodiscard]] FrameHeader& frame_header(std::uint32_t slot) const noexcept {
    return reinterpret_cast<FrameHeader*>(base_ + header().frame_headers_offset)[slot];
  }
  /// Slot `slot`'s first pixel byte: 4096-byte aligned.
  [[nodiscard]] std::byte* slot_pixels(std::uint32_t slot) const noexcept {
    return base_ + header().slots_offset + std::uint64_t{slot} * header().slot_stride_bytes;
  }
  [[nodiscard]] std::uint32_t slot_count() const noexcept { return header().slot_count; }
  [[nodiscard]] std::uint32_t max_consumers() const noexcept { return header().max_consumers; }
  [[nodiscard]] std::uint64_t size_bytes() const noexcept { return size_bytes_; }

  /// Takes the consumer-table lock: flock(LOCK_EX) on the segment's file, held until the
  /// returned guard is destroyed. Only attach, detach and reclaim of consumer entries take it
  /// (never the frame path); the kernel drops it when its holder dies, so a crash mid-attach
  /// leaves nothing locked. It lets readers without compare-and-swap (python/) attach safely.
  class TableLock {
   public:
    explicit TableLock(int fd) noexcept;
    ~TableLock();
    TableLock(const TableLock&) = delete;
    TableLock& operator=(const TableLock&) = delete;

   private:
    int fd_;
  };
  [[nodiscard]] TableLock lock_consumer_table() const noexcept;

  /// Whether any participant recorded in the segment (producer or consumer) is alive.
  [[nodiscard]] bool has_live_participant() const noexcept;

  /// Frames published over the segment's life: the producer's cursor, so the newest frame is
  /// published() - 1. Acquire load: pairs with the store in RingWriter::publish, so the frames
  /// below it are complete when a caller reads them.
  [[nodiscard]] std::uint64_t published() const noexcept;

  /// Whether `instance` has a segment named `ring` (by name only: nothing is opened or checked).
  /// Throws SegmentError when either name is not valid (segment_name).
  [[nodiscard]] static bool exists(std::string_view instance, std::string_view ring);

  /// Names of the instances that have at least one segment, sorted, each once.
  [[nodiscard]] static std::vector<std::string> list_instances();

 private:
  struct Mapping;
  Segment(std::unique_ptr<Mapping> mapping, std::string name, std::string ring);
  /// For create() alone: fills the header in before it publishes the magic.
  [[nodiscard]] SegmentHeader& writable_header() noexcept { return *reinterpret_cast<SegmentHeader*>(base_); }

  std::unique_ptr<Mapping> mapping_;
  std::byte* base_ = nullptr;
  std::uint64_t size_bytes_ = 0;
  std::string name_;
  std::string ring_;
};

/// "1920x1080 Mono16, 16 slots" as recorded in a segment header, for error messages.
[[nodiscard]] std::string describe_header(const SegmentHeader& header);

/// How a consumer waits for a ring whose producer may start after it (as `framering run`
/// starts its stages).
struct CreationWait {
  std::chrono::nanoseconds timeout{0};  ///< how long to wait for the producer to create the ring
  std::string_view option;              ///< the option that sets `timeout`, named in the error
  std::string_view role = "ring";       ///< how errors name the ring: "ring", "input ring"
  bool (*should_stop)() = nullptr;      ///< polled while waiting: true ends the wait (SIGINT/SIGTERM)
};

/// Opens `instance`'s `ring` like Segment::open, first waiting up to `wait.timeout` for its
/// producer to create it: polls every 20 ms (start-up only), logs once that it waits, and gives
/// a segment that has just appeared a second to get its header. Returns nullopt when
/// `wait.should_stop` says so while waiting. Throws SegmentError naming the role, ring,
/// instance, segment path, the wait and `wait.option` when the ring does not appear in time,
/// and every error Segment::open throws for a ring that is there.
[[nodiscard]] std::optional<Segment> open_when_created(std::string_view instance, std::string_view ring,
                                                       const CreationWait& wait);

/// The header Segment::create writes for `geometry` (which must pass RingGeometry::validate):
/// magic, layout version, geometry, entry sizes and every block offset from compute_layout.
/// segment_id, created_realtime_ns, permissions and ring_name are left 0 for the creator.
/// Pure: validate_header accepts it, and its tests and fuzzer start from it.
[[nodiscard]] SegmentHeader make_segment_header(const RingGeometry& geometry) noexcept;

/// Which check a segment header failed (validate_header), in the order they are made.
enum class HeaderProblem {
  Truncated,           ///< shorter than a header, or than the segment_bytes the header records
  Uninitialised,       ///< magic 0: its creator has not finished filling it in, or died doing so
  ForeignMagic,        ///< magic neither 0 nor kMagic: not a framering ring
  OtherLayoutVersion,  ///< layout_version or header_bytes differ from this build's
  EntrySizeMismatch,   ///< this layout version, but other ConsumerEntry / FrameHeader sizes
  Inconsistent,        ///< a field disagrees with what the recorded geometry gives (a wild offset)
  GeometryMismatch,    ///< a sound header, but not the geometry the caller expects
};

/// Why a header was refused.
struct HeaderError {
  HeaderProblem problem = HeaderProblem::Truncated;
  /// Names both sides and reads as the rest of a sentence about the segment, e.g.
  /// "has layout version 3 (header 256 B), this framering reads layout version 2 (header 256 B): ..."
  /// so that Segment::open throws "ring segment /dev/shm/<name> " + message.
  std::string message;
};

/// Checks a segment header from bytes, without touching shared memory: what Segment::open
/// checks once the segment is mapped, and what a fuzzer can call on any input.
///
/// @param bytes            the segment's first bytes, at least sizeof(SegmentHeader) (256) of them;
///                         more are ignored. Any alignment (the header is copied out).
/// @param file_size_bytes  size of the whole segment file, to hold against the header's segment_bytes.
/// @param expected         when set, the width, height, pixel format and row stride the caller
///                         needs, and the slot count unless it is 0.
/// @return nothing when the header is sound, else the first failure, checked in this order:
///   Truncated           bytes shorter than a header;
///   Uninitialised, ForeignMagic  magic is not kMagic (nothing else is read then);
///   OtherLayoutVersion  layout_version != kLayoutVersion or header_bytes != 256;
///   EntrySizeMismatch   consumer_entry_bytes or frame_header_bytes differ from this build's;
///   Truncated           file_size_bytes < segment_bytes;
///   Inconsistent        unknown pixel format, a geometry RingGeometry::validate refuses (zero
///                       slots, say), or bytes_per_pixel, stride_bytes, frame_bytes,
///                       slot_alignment_bytes, slot_stride_bytes, segment_bytes or a block offset
///                       other than compute_layout gives for the recorded geometry;
///   GeometryMismatch    not `expected`.
/// Throws only std::bad_alloc (building the message).
[[nodiscard]] std::expected<void, HeaderError> validate_header(std::span<const std::byte> bytes,
                                                               std::uint64_t file_size_bytes,
                                                               const std::optional<RingGeometry>& expected);

}  // namespace framering::ring
