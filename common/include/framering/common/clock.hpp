// clock.hpp: the clocks framering uses, in integer nanoseconds.
#pragma once

#include <cstdint>
#include <ctime>

namespace framering {

/// CLOCK_MONOTONIC in ns: for intervals, rates, heartbeats and wake latency. It is one clock
/// for every process on the machine, so values from different processes can be subtracted.
[[nodiscard]] inline std::uint64_t monotonic_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

/// CLOCK_REALTIME in ns since the Unix epoch: the wall time a frame was acquired.
[[nodiscard]] inline std::uint64_t realtime_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

/// CLOCK_PROCESS_CPUTIME_ID in ns: CPU time of all this process's threads (FFTW's too), for
/// benchmarks that must not depend on what else the machine runs.
[[nodiscard]] inline std::uint64_t process_cpu_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace framering
