// futex.hpp: Linux futex wait/wake on 32-bit words in *shared* memory. The private flag is never
// used: waiter and waker are different processes mapping the same page.
#pragma once

#include <chrono>
#include <cstdint>

namespace framering {

/// Sleeps while `*word == expected`, at most `timeout`. Returns when woken, when the word
/// differs on entry, on a signal, or at the timeout; the caller re-checks its condition in
/// every case (spurious returns are allowed). A negative or zero timeout returns at once.
void futex_wait(std::uint32_t* word, std::uint32_t expected, std::chrono::nanoseconds timeout) noexcept;

/// Wakes up to `count` processes sleeping on `word`.
void futex_wake(std::uint32_t* word, int count) noexcept;

}  // namespace framering
