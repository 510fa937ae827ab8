// camera_frame_id.hpp: arithmetic on a source's own frame counter (FrameHeader.camera_frame_id),
// shared by the producer that counts a camera's losses and the recorder that names them.
#pragma once

#include <cstdint>

namespace framering {

/// The largest 16-bit GigE Vision block id; 16-bit ids wrap from here to 1.
inline constexpr std::uint64_t kMaxShortFrameId = 65535;

/// Frames lost between two camera frame ids: `next` following `previous` directly gives 0.
/// 16-bit ids (both <= 65535) wrap 65535 -> 1 (0 is reserved: GigE Vision 1.2, section 24.2,
/// "block_id ... 0 is reserved"), so 65535 -> 1 gives 0 and 65534 -> 2 gives 2. Larger
/// (extended, 64-bit) ids and 0-based counters (files, V4L2, patterns) do not wrap; an id that
/// goes backwards there gives 0 (a camera restart: not a gap that ids can size).
[[nodiscard]] constexpr std::uint64_t frame_id_gap(std::uint64_t previous, std::uint64_t next) noexcept {
  if (next == previous) return 0;
  if (next > previous) return next - previous - 1;
  if (previous <= kMaxShortFrameId && next >= 1) return (kMaxShortFrameId - previous) + (next - 1);
  return 0;
}

}  // namespace framering
