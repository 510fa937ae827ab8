// small_ring.hpp: the ring geometry the unit tests of the ring and the stage kit use: 32x8
// Mono16 frames (512 bytes of pixels, one 4 KiB page per slot), `slots` slots, 4 consumer entries.
#pragma once

#include <cstdint>

#include "framering/common/ring_geometry.hpp"

namespace framering::test {

[[nodiscard]] inline ring::RingGeometry small_ring_geometry(std::uint32_t slots = 4) {
  ring::RingGeometry g;
  g.frame.width = 32;
  g.frame.height = 8;
  g.slot_count = slots;
  g.max_consumers = 4;
  return g;
}

}  // namespace framering::test
