// frame_shape.hpp: the shape of one frame's pixels in memory (width, height, pixel format, row
// stride), the one type every part uses for it: a ring's slots (ring::RingGeometry), a source's
// frames, the sequence pattern, a Fourier filter's plans, a TIFF page (record::PageGeometry).
// Pure arithmetic: no memory is touched here.
//
//   row 0:      width * bytes_per_pixel pixel bytes | padding up to row_stride_bytes
//   row 1:      ...                                  (rows row_stride_bytes apart)
//   row h-1:    ...
//   frame_bytes = row_stride_bytes * height (the last row's padding included)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "framering/common/pixel_format.hpp"

namespace framering {

/// A frame's pixels in memory: `height` rows of `width` pixels of `pixel_format`, row starts
/// `row_stride_bytes()` apart. A plain value; compare with ==.
struct FrameShape {
  std::uint32_t width = 0;   ///< pixels per row
  std::uint32_t height = 0;  ///< rows
  PixelFormat pixel_format = PixelFormat::Mono16;
  /// Bytes from one row start to the next (at least width * bytes per pixel); 0 = packed rows.
  std::uint64_t stride_bytes = 0;

  /// stride_bytes, or packed_row_bytes() when it is 0. Bytes.
  [[nodiscard]] std::uint64_t row_stride_bytes() const noexcept;
  /// width * bytes per pixel: the pixel bytes of one row, without padding. Bytes.
  [[nodiscard]] std::uint64_t packed_row_bytes() const noexcept;
  /// row_stride_bytes() * height: the bytes one frame spans, row padding included. Bytes.
  [[nodiscard]] std::uint64_t frame_bytes() const noexcept;
  /// packed_row_bytes() * height: the frame's pixel bytes with no row padding. Bytes.
  [[nodiscard]] std::uint64_t packed_frame_bytes() const noexcept;

  /// Throws ConfigError naming the field when the shape is impossible: zero or over 65536
  /// width or height, a pixel format that is not a known PFNC code, or a non-zero stride below
  /// width * bytes per pixel. Messages start with "<subject>: " ("ring geometry: width 0 is
  /// out of range (expected 1..65536)").
  void validate(std::string_view subject = "frame shape") const;

  /// "1920x1080 Mono16 stride 3840 B" (the row stride, packed or not).
  [[nodiscard]] std::string to_string() const;

  friend bool operator==(const FrameShape&, const FrameShape&) = default;
};

}  // namespace framering
