// latency_window.hpp: publish -> read latency of the frames a consumer read lately, for its ring
// entry: "how old is what I see?" (docs/ring-layout.md, ConsumerEntry.identity.latency).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

namespace framering {

/// The latencies (ns, CLOCK_MONOTONIC read time minus FrameHeader.publish_monotonic_ns) of the
/// last kFrames frames a consumer read, and their p50, p99 and maximum. Percentiles are by
/// nearest rank (the smallest sample with at least p % of the samples at or below it). Not
/// thread-safe; allocates nothing (4 KiB inline).
class LatencyWindow {
 public:
  static constexpr std::size_t kFrames = 256;

  /// The window's figures, in ns; `frames` = samples they are over (0: none yet).
  struct Figures {
    std::uint64_t p50_ns = 0;
    std::uint64_t p99_ns = 0;
    std::uint64_t max_ns = 0;
    std::uint64_t frames = 0;
  };

  /// Adds one frame's latency; the oldest drops out once kFrames are held.
  void add(std::uint64_t latency_ns) noexcept {
    samples_[next_] = latency_ns;
    next_ = (next_ + 1) % kFrames;
    count_ = std::min(count_ + 1, kFrames);
    dirty_ = true;
  }

  /// Whether frames were added since the last figures().
  [[nodiscard]] bool dirty() const noexcept { return dirty_; }

  /// p50, p99 and max over the window (O(kFrames)); clears dirty().
  [[nodiscard]] Figures figures() noexcept {
    dirty_ = false;
    if (count_ == 0) return {};
    std::copy_n(samples_.begin(), count_, scratch_.begin());
    const auto begin = scratch_.begin();
    const auto end = begin + static_cast<std::ptrdiff_t>(count_);
    Figures f;
    f.frames = count_;
    f.max_ns = *std::max_element(begin, end);
    f.p99_ns = nth(begin, end, 99);
    f.p50_ns = nth(begin, end, 50);
    return f;
  }

 private:
  template <class It>
  [[nodiscard]] std::uint64_t nth(It begin, It end, std::size_t percent) const noexcept {
    const std::size_t rank = (percent * count_ + 99) / 100;  // ceil(p/100 * n), >= 1
    const auto at = begin + static_cast<std::ptrdiff_t>(rank - 1);
    std::nth_element(begin, at, end);
    return *at;
  }

  std::array<std::uint64_t, kFrames> samples_{};
  std::array<std::uint64_t, kFrames> scratch_{};
  std::size_t count_ = 0;
  std::size_t next_ = 0;
  bool dirty_ = false;
};

}  // namespace framering
