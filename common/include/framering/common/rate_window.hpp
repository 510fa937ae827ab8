// rate_window.hpp: events per second over windows of about a second, for the rates that
// producers and consumers publish in their ring entries.
#pragma once

#include <cstdint>
#include <optional>

namespace framering {

/// Counts events and, once a window of at least `window_ns` has passed, yields the rate over it
/// in events/s * 1000 (integer milli-fps, as the ring stores it). Not thread-safe; no allocation.
class RateWindow {
 public:
  explicit RateWindow(std::uint64_t window_ns = 1'000'000'000) noexcept : window_ns_(window_ns) {}

  /// Counts one event at `now_ns` (CLOCK_MONOTONIC); the new rate when a window closed.
  [[nodiscard]] std::optional<std::uint64_t> tick(std::uint64_t now_ns) noexcept {
    if (start_ns_ == 0) {
      start_ns_ = now_ns;
      return std::nullopt;
    }
    ++events_;
    const std::uint64_t elapsed = now_ns - start_ns_;
    if (elapsed < window_ns_) return std::nullopt;
    const std::uint64_t milli_per_s = events_ * 1'000'000'000'000ULL / elapsed;
    start_ns_ = now_ns;
    events_ = 0;
    return milli_per_s;
  }

 private:
  std::uint64_t window_ns_;
  std::uint64_t start_ns_ = 0;
  std::uint64_t events_ = 0;
};

}  // namespace framering
