// ring_geometry.hpp: the shape of a ring's frames and slots, and the segment layout that follows
// from it. Pure arithmetic: no shared memory is touched here.
#pragma once

#include <cstdint>
#include <string>

#include "framering/common/pixel_format.hpp"

namespace framering::ring {

inline constexpr std::uint64_t kPageBytes = 4096;     ///< slot alignment and slot stride unit
inline constexpr std::uint64_t kCacheLineBytes = 64;  ///< every cursor sits on its own line

/// What a producer asks for: frame shape, pixel format and how many slots.
struct RingGeometry {
  std::uint32_t width = 1920;   ///< pixels per row
  std::uint32_t height = 1080;  ///< rows
  PixelFormat pixel_format = PixelFormat::Mono16;
  std::uint64_t stride_bytes = 0;  ///< bytes between row starts; 0 = width * bytes_per_pixel
  std::uint32_t slot_count = 16;   ///< frames the ring holds; at least 2
  std::uint32_t max_consumers = 16;  ///< consumer table entries; 1..64

  /// stride_bytes, or width * bytes_per_pixel when it is 0.
  [[nodiscard]] std::uint64_t row_stride_bytes() const noexcept;
  /// stride * height: the pixel bytes of one frame.
  [[nodiscard]] std::uint64_t frame_bytes() const noexcept;
  /// frame_bytes rounded up to a whole number of 4096-byte pages.
  [[nodiscard]] std::uint64_t slot_stride_bytes() const noexcept;

  /// Throws ConfigError naming the field when the geometry is impossible: zero or over 65536
  /// width or height, unknown pixel format, stride below width * bytes_per_pixel, fewer than 2
  /// or more than 65536 slots, max_consumers outside 1..64, a frame (stride * height) or a
  /// segment over 64 GiB. A valid geometry's sizes and offsets never overflow 64 bits.
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
