// ring_geometry.hpp: the shape of a ring's frames (a FrameShape) and slots, and the segment
// layout that follows from it. Pure arithmetic: no shared memory is touched here.
#pragma once

#include <cstdint>
#include <string>

#include "framering/common/frame_shape.hpp"
#include "framering/common/pixel_format.hpp"

namespace framering::ring {

inline constexpr std::uint64_t kPageBytes = 4096;     ///< slot alignment and slot stride unit
inline constexpr std::uint64_t kCacheLineBytes = 64;  ///< every cursor sits on its own line

/// What a producer asks for: the frame every slot holds, and how many slots.
struct RingGeometry {
  /// Each slot's frame; stride_bytes 0 = packed rows (width * bytes_per_pixel).
  FrameShape frame{.width = 1920, .height = 1080, .pixel_format = PixelFormat::Mono16, .stride_bytes = 0};
  std::uint32_t slot_count = 16;     ///< frames the ring holds; at least 2
  std::uint32_t max_consumers = 16;  ///< consumer table entries; 1..64

  /// frame.row_stride_bytes(): bytes between row starts, packed when frame.stride_bytes is 0.
  [[nodiscard]] std::uint64_t row_stride_bytes() const noexcept { return frame.row_stride_bytes(); }
  /// frame.frame_bytes(): stride * height, the pixel bytes of one frame.
  [[nodiscard]] std::uint64_t frame_bytes() const noexcept { return frame.frame_bytes(); }
  /// frame_bytes rounded up to a whole number of 4096-byte pages.
  [[nodiscard]] std::uint64_t slot_stride_bytes() const noexcept;

  /// Throws ConfigError naming the field when the geometry is impossible: a frame that
  /// FrameShape::validate refuses (messages start "ring geometry: "), fewer than 2 or more
  /// than 65536 slots, max_consumers outside 1..64, a frame (stride * height) or a segment over
  /// 64 GiB. A valid geometry's sizes and offsets never overflow 64 bits.
  void validate() const;

  /// "1920x1080 Mono16 stride 3840 B, 16 slots of 4149248 B, 16 consumer entries".
  [[nodiscard]] std::string to_string() const;

  friend bool operator==(const RingGeometry&, const RingGeometry&) = default;
};

/// Byte offsets of each block in a segment with a given geometry (docs/ring-layout.md).
struct SegmentLayout {
  std::uint64_t control_offset = 0;        ///< ProducerControl
  std::uint64_t consumers_offset = 0;      ///< ConsumerEntry[max_consumers]
  std::uint64_t frame_headers_offset = 0;  ///< FrameHeader[slot_count]
  std::uint64_t slots_offset = 0;          ///< slot 0's pixels; a multiple of 4096
  std::uint64_t slot_stride_bytes = 0;     ///< a multiple of 4096
  std::uint64_t segment_bytes = 0;         ///< total size of the segment
};

/// The layout for `geometry` (which must be valid).
[[nodiscard]] SegmentLayout compute_layout(const RingGeometry& geometry) noexcept;

}  // namespace framering::ring
