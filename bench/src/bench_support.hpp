// bench_support.hpp: what the benchmarks' child processes share: their result files and the
// producer that copies prepared frames into claimed slots as fast as the ring lets it.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framering/common/ring_geometry.hpp"
#include "framering/common/ring_writer.hpp"

namespace framering::bench {

/// Writes one child's result as one JSON line; throws Error naming the path when it cannot.
void write_result(const std::string& path, const nlohmann::json& result);

/// Reads a child's result; throws Error naming the role and the path when there is none.
[[nodiscard]] nlohmann::json read_result(const std::string& path, const std::string& role);

/// Claims, memcpy's `sources[i % n]` (frame_bytes each) into the slot, optionally stamps the
/// sequence into the first and last 8 bytes, publishes; for `seconds` or until SIGINT/SIGTERM.
/// Returns {frames, seconds, frames_per_s, claim_timeouts, blocked_s} for the result file.
[[nodiscard]] nlohmann::json produce_copies(ring::RingWriter& writer, const std::vector<const std::byte*>& sources,
                                            double seconds, bool stamp_sequence);

/// The sequence stamp produce_copies writes: `sequence` in the first and last 8 bytes.
void stamp(std::byte* frame, std::size_t frame_bytes, std::uint64_t sequence) noexcept;


/// A benchmark ring: width x height Mono16, `slots` slots, 4 consumer entries.
[[nodiscard]] ring::RingGeometry mono16_geometry(std::uint32_t width, std::uint32_t height, std::uint32_t slots);

struct AlignedFree {
  void operator()(std::byte* p) const noexcept { std::free(p); }
};
/// A page-aligned (4096 B) heap buffer, as a camera driver's or the ring's slots are.
using AlignedBuffer = std::unique_ptr<std::byte[], AlignedFree>;

/// `bytes` rounded up to a page, 4096-aligned, every page touched (zeroed) so that no page
/// fault lands inside a timed loop. Throws Error naming the size when allocation fails.
[[nodiscard]] AlignedBuffer aligned_buffer(std::size_t bytes);

/// Starts this executable (/proc/self/exe) with `args` (argv[0] first), its stdout to
/// `stdout_path` when not empty. Throws Error naming `what` when it cannot start.
[[nodiscard]] pid_t spawn_self(std::vector<std::string> args, const std::string& what, const std::string& stdout_path = {});

/// Waits for `pid` to exit; its exit code, or -1 when a signal ended it.
int wait_child(pid_t pid);

}  // namespace framering::bench
