// random.hpp: the acquire stage's fast, reproducible random numbers (private to acquire/src).
// splitmix64: Steele, Lea and Flood, "Fast splittable pseudorandom number generators", OOPSLA
// 2014; the same constants as java.util.SplittableRandom. Not for cryptography.
#pragma once

#include <cstdint>

namespace framering::acquire::detail {

/// One step of splitmix64: advances `state` and returns 64 well-mixed bits.
[[nodiscard]] inline std::uint64_t splitmix64(std::uint64_t& state) noexcept {
  state += 0x9E3779B97F4A7C15ULL;
  std::uint64_t z = state;
  z = (z ^ (z >> 30U)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27U)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31U);
}

/// A state derived from (seed, stream, index), so that streams do not overlap in practice.
[[nodiscard]] inline std::uint64_t derive_state(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) noexcept {
  std::uint64_t s = seed;
  std::uint64_t h = splitmix64(s) ^ (stream * 0xD1B54A32D192ED03ULL);
  h = splitmix64(h) ^ index;
  return splitmix64(h);
}

/// A uniform double in [0, 1) from 53 of the bits.
[[nodiscard]] inline double to_unit(std::uint64_t bits) noexcept {
  return static_cast<double>(bits >> 11U) * 0x1.0p-53;
}

/// A uniform double in [0, 1) drawn from `state`.
[[nodiscard]] inline double uniform(std::uint64_t& state) noexcept { return to_unit(splitmix64(state)); }

}  // namespace framering::acquire::detail
