// process_identity.hpp: who a participant is (pid + start time), so that a dead process, or a
// recycled pid, is told apart from a live one.
#pragma once

#include <cstdint>
#include <sys/types.h>

namespace framering {

/// Start time of `pid` in clock ticks since boot (proc(5): /proc/<pid>/stat field 22), or 0
/// when the process does not exist.
[[nodiscard]] std::uint64_t process_start_ticks(pid_t pid) noexcept;

/// Whether `pid` is alive and is the process that started at `start_ticks` (0 = do not check
/// the start time). A zombie (exited, not yet reaped) counts as dead.
[[nodiscard]] bool is_process_alive(pid_t pid, std::uint64_t start_ticks) noexcept;

}  // namespace framering
