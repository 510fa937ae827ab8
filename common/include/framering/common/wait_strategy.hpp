// wait_strategy.hpp: how a consumer waits for the producer's next frame when it has caught up
// (RingReader::read with nothing newer published), chosen per consumer (ReaderOptions::wait).
//
//   futex     Ready, re-check, FUTEX_WAIT until the producer wakes it (the ring's protocol,
//             docs/ring-layout.md §9). Costs no CPU while waiting; the wake costs what the
//             kernel (and, on a VM, the hypervisor) takes to run a sleeping process.
//   spin      polls `published` with a pause instruction for at most WaitTuning::spin, Ready
//             cleared, then waits as futex does. Wins when the frame comes within the spin.
//   deadline  learns the producer's frame period from the publish times of recent frames
//             (PublishPeriodEstimator), sleeps on the futex (Ready set: an early frame wakes it)
//             until WaitTuning::lead before the next frame is due, polls `published` from then
//             until WaitTuning::window after it is due, then waits as futex does. It never spins
//             when the next frame is not due soon: without an estimate, or when the frame is
//             overdue (a paused or stopped producer), it waits as futex does.
//
// Everything here but cpu_relax() is pure: the estimator and the plan take times as arguments,
// so tests drive them with fixed numbers. bench/README.md ("Wait strategies") has the figures
// the default was chosen from.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace framering::ring {

/// A consumer's way of waiting for a frame not yet published (file comment).
enum class WaitStrategy : std::uint8_t {
  Futex,     ///< sleep until woken: no CPU while waiting
  Spin,      ///< poll for WaitTuning::spin, then sleep until woken
  Deadline,  ///< sleep until just before the frame is due, poll around it, then sleep until woken
};

/// The default of ReaderOptions::wait and of every `--wait` option. Futex: polling pays only for
/// a consumer with a CPU of its own (measured on the 2-core development VM: deadline, pinned to
/// the free core, wake p50 0.4-0.5 µs against futex's 26-29 µs; unpinned or with no core free,
/// its polls and spin's caught almost no frame and delayed the producer). bench/README.md,
/// "Wait strategies", has the figures and commands; docs/design-decisions.md the reasoning.
inline constexpr WaitStrategy kDefaultWaitStrategy = WaitStrategy::Futex;

/// "futex", "spin" or "deadline": the `--wait` spelling.
[[nodiscard]] std::string_view to_string(WaitStrategy strategy) noexcept;

/// The strategy spelled `name` ("futex", "spin", "deadline"; exact, lower case), or nullopt.
[[nodiscard]] std::optional<WaitStrategy> parse_wait_strategy(std::string_view name) noexcept;

/// "futex, spin or deadline", for help texts and errors.
[[nodiscard]] std::string wait_strategy_names();

/// The bounds of the strategies' polling. Every poll is bounded by these, and by the read's
/// own timeout; at most kMaxSpin each (RingReader::attach clamps larger values).
struct WaitTuning {
  /// spin: how long to poll before sleeping.
  std::chrono::nanoseconds spin{std::chrono::microseconds{50}};
  /// deadline: stop sleeping this long before the frame is due. It must cover the lateness of
  /// a timed futex sleep (timer slack, 50 µs by default for a normal thread, plus the wake-up).
  std::chrono::nanoseconds lead{std::chrono::microseconds{80}};
  /// deadline: poll at most this long after the frame is due before sleeping until woken.
  std::chrono::nanoseconds window{std::chrono::microseconds{40}};
};

/// What a reader's waits did, counted in the reader (process-local, never in the segment): how
/// often a poll caught the frame, and the CPU time polls took.
struct WaitStats {
  std::uint64_t polls = 0;          ///< polls started (spin, or deadline near a due frame)
  std::uint64_t polls_caught = 0;   ///< polls that saw the frame published (or an eviction)
  std::uint64_t poll_ns = 0;        ///< CLOCK_MONOTONIC ns spent polling, all polls together
  std::uint64_t sleeps = 0;         ///< futex waits entered (any strategy, timed or not)
  std::uint64_t early_sleeps = 0;   ///< deadline: sleeps until just before a due frame
};

/// The longest any one poll may last (spin, or lead + window).
inline constexpr std::chrono::nanoseconds kMaxSpin{std::chrono::microseconds{500}};

/// One frame's publication as a consumer saw it: its sequence and its FrameHeader's
/// publish_monotonic_ns (CLOCK_MONOTONIC ns).
struct PublishSample {
  std::uint64_t sequence = 0;
  std::uint64_t publish_ns = 0;
};

/// The producer's frame period, in ns, from publish samples in increasing sequence order: the
/// median over consecutive pairs of (publish_ns difference) / (sequence difference), so that
/// samples far apart in sequence (a 60 Hz consumer sees one frame in many) count as one pair
/// each, and a minority of pairs that span a pause of the producer do not move it. Pairs whose
/// sequence or time does not increase are ignored. nullopt when no pair is usable. Pure: uses
/// at most the last 64 pairs; allocates nothing.
[[nodiscard]] std::optional<std::uint64_t> estimate_period_ns(std::span<const PublishSample> samples) noexcept;

/// The last kSamples publish samples a consumer saw (from the frames it read and the newest
/// frame's header when it waits), and what they predict. One thread; allocates nothing.
class PublishPeriodEstimator {
 public:
  static constexpr std::size_t kSamples = 16;

  /// Adds a sample; ignored unless its sequence is newer than the last one added.
  void add(PublishSample sample) noexcept;
  /// estimate_period_ns over the samples held, oldest first.
  [[nodiscard]] std::optional<std::uint64_t> period_ns() const noexcept;
  /// When frame `sequence` (newer than the last sample) is due: the last sample's publish time
  /// plus (sequence - its sequence) periods, CLOCK_MONOTONIC ns. nullopt without a period or
  /// for a sequence not newer than the last sample.
  [[nodiscard]] std::optional<std::uint64_t> expected_publish_ns(std::uint64_t sequence) const noexcept;
  /// Samples held (at most kSamples).
  [[nodiscard]] std::size_t size() const noexcept { return count_; }

 private:
  std::array<PublishSample, kSamples> ring_{};
  std::size_t next_ = 0;   ///< where the next sample goes
  std::size_t count_ = 0;  ///< valid samples, the newest at next_ - 1
};

/// The deadline strategy's plan for one wait, CLOCK_MONOTONIC ns.
struct DeadlinePlan {
  std::uint64_t sleep_until_ns = 0;  ///< sleep (Ready set) until then; <= now: no sleep
  std::uint64_t spin_until_ns = 0;   ///< then poll until then
  friend bool operator==(const DeadlinePlan&, const DeadlinePlan&) = default;
};

/// Plans a deadline wait at `now_ns` for a frame due at `expected_ns`: sleep until
/// expected - lead, then poll until expected + window (lead and window clamped to kMaxSpin
/// together). nullopt when the frame is overdue (now >= expected + window): the caller waits
/// as futex does, never polling for a producer that is late or gone. Pure.
[[nodiscard]] std::optional<DeadlinePlan> plan_deadline_wait(std::uint64_t now_ns, std::uint64_t expected_ns,
                                                             const WaitTuning& tuning) noexcept;

/// One pause of a polling loop: `pause` on x86 (lets the sibling hyper-thread run and spares
/// the memory-order machine clear when the polled line changes), `yield` on AArch64.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace framering::ring
