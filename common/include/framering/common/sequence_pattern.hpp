// sequence_pattern.hpp: a frame whose pixels encode its sequence, so that any consumer can verify
// content without a reference copy (STYLE.md section 8). The pattern source's `testpattern`
// scene (acquire/) writes it; ring_peer and the tests check it.
//
//   sample c of pixel (x, y) = (sequence + x + 3*y + 85*c) & mask
// where mask = 2^significant_bits - 1 (0xFF for Mono8, RGB8 and BayerRG8, 0x0FFF for Mono12,
// 0xFFFF for Mono16) and c is the channel: always 0 for Mono and Bayer formats (one sample per
// pixel, so the Mono pattern is unchanged), 0, 1, 2 for the bytes of an RGB8 or BGR8 pixel in
// memory order. Each channel thus encodes the sequence on its own, and the three differ.
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
  std::uint32_t channel = 0;  ///< sample within the pixel: 0 for Mono/Bayer, 0..2 for RGB8/BGR8
  std::uint32_t expected = 0;
  std::uint32_t actual = 0;
};

/// Checks every pixel of `frame` against the pattern for `sequence`; the first mismatch, or
/// nullopt when the frame is exactly the pattern.
[[nodiscard]] std::optional<PatternMismatch> check_sequence_pattern(std::span<const std::byte> frame,
                                                                const FrameShape& shape,
                                                                std::uint64_t sequence) noexcept;

}  // namespace framering
