// test_pattern.hpp: a frame whose pixels encode its sequence, so that any consumer can verify
// content without a reference copy (STYLE.md section 8):
//   Mono16 and the other 16-bit containers: pixel(x, y) = (sequence + x + 3*y) & mask
//   Mono8:                                  pixel(x, y) = (sequence + x + 3*y) & 0xFF
// where mask = 2^significant_bits - 1 (0xFFFF for Mono16, 0x0FFF for Mono12).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "framering/common/pixel_format.hpp"

namespace framering {

/// Shape of the frame a pattern is written into or checked in.
struct PatternShape {
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  std::uint64_t stride_bytes = 0;  ///< bytes between row starts (>= width * bytes per pixel)
  PixelFormat pixel_format = PixelFormat::Mono16;
};

/// Writes the pattern for `sequence` into `frame` (at least height * stride_bytes bytes).
/// Padding bytes at the end of rows are left as they are.
void fill_test_pattern(std::span<std::byte> frame, const PatternShape& shape, std::uint64_t sequence) noexcept;

/// A pixel that differs from the pattern.
struct PatternMismatch {
  std::uint32_t x = 0;
  std::uint32_t y = 0;
  std::uint32_t expected = 0;
  std::uint32_t actual = 0;
};

/// Checks every pixel of `frame` against the pattern for `sequence`; the first mismatch, or
/// nullopt when the frame is exactly the pattern.
[[nodiscard]] std::optional<PatternMismatch> check_test_pattern(std::span<const std::byte> frame,
                                                                const PatternShape& shape,
                                                                std::uint64_t sequence) noexcept;

}  // namespace framering
