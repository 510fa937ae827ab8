// sequence_pattern.hpp: a frame whose pixels encode its sequence, so that any consumer can verify
// content without a reference copy (STYLE.md section 8). The pattern source's `testpattern`
// scene (acquire/) writes it; ring_peer and the tests check it.
//
//   Mono16 and the other 16-bit containers: pixel(x, y) = (sequence + x + 3*y) & mask
//   Mono8:                                  pixel(x, y) = (sequence + x + 3*y) & 0xFF
// where mask = 2^significant_bits - 1 (0xFFFF for Mono16, 0x0FFF for Mono12).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "framering/common/frame_shape.hpp"

namespace framering {

/// Writes the pattern for `sequence` into `frame` (at least shape.frame_bytes() bytes: rows
/// shape.row_stride_bytes() apart). Padding bytes at the end of rows are left as they are.
void fill_sequence_pattern(std::span<std::byte> frame, const FrameShape& shape, std::uint64_t sequence) noexcept;

/// A pixel that differs from the pattern.
struct PatternMismatch {
  std::uint32_t x = 0;
  std::uint32_t y = 0;
  std::uint32_t expected = 0;
  std::uint32_t actual = 0;
};

/// Checks every pixel of `frame` against the pattern for `sequence`; the first mismatch, or
/// nullopt when the frame is exactly the pattern.
[[nodiscard]] std::optional<PatternMismatch> check_sequence_pattern(std::span<const std::byte> frame,
                                                                const FrameShape& shape,
                                                                std::uint64_t sequence) noexcept;

}  // namespace framering
