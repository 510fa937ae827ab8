#include "framering/common/wait_strategy.hpp"

#include <algorithm>

#include "framering/common/enum_names.hpp"

namespace framering::ring {
namespace {

constexpr EnumName<WaitStrategy> kNames[] = {
    {WaitStrategy::Futex, "futex"},
    {WaitStrategy::Spin, "spin"},
    {WaitStrategy::Deadline, "deadline"},
};

constexpr std::size_t kMaxPairs = 64;

}  // namespace

std::string_view to_string(WaitStrategy strategy) noexcept { return name_in<WaitStrategy>(kNames, strategy); }

std::optional<WaitStrategy> parse_wait_strategy(std::string_view name) noexcept {
  return parse_name_in<WaitStrategy>(kNames, name);
}

std::string wait_strategy_names() { return "futex, spin or deadline"; }

std::optional<std::uint64_t> estimate_period_ns(std::span<const PublishSample> samples) noexcept {
  if (samples.size() > kMaxPairs + 1) samples = samples.last(kMaxPairs + 1);
  std::array<std::uint64_t, kMaxPairs> periods{};
  std::size_t n = 0;
  for (std::size_t i = 1; i < samples.size(); ++i) {
    const PublishSample& a = samples[i - 1];
    const PublishSample& b = samples[i];
    if (b.sequence <= a.sequence || b.publish_ns <= a.publish_ns) continue;
    periods[n++] = (b.publish_ns - a.publish_ns) / (b.sequence - a.sequence);
  }
  if (n == 0) return std::nullopt;
  // Lower median: with two pairs, the shorter period (a pause lengthens a pair, never shortens it).
  const auto middle = periods.begin() + static_cast<std::ptrdiff_t>((n - 1) / 2);
  std::nth_element(periods.begin(), middle, periods.begin() + static_cast<std::ptrdiff_t>(n));
  if (*middle == 0) return std::nullopt;  // more than one frame per ns: no usable period
  return *middle;
}

void PublishPeriodEstimator::add(PublishSample sample) noexcept {
  if (count_ > 0 && sample.sequence <= ring_[(next_ + kSamples - 1) % kSamples].sequence) return;
  ring_[next_] = sample;
  next_ = (next_ + 1) % kSamples;
  count_ = std::min(count_ + 1, kSamples);
}

std::optional<std::uint64_t> PublishPeriodEstimator::period_ns() const noexcept {
  std::array<PublishSample, kSamples> ordered{};
  const std::size_t first = (next_ + kSamples - count_) % kSamples;
  for (std::size_t i = 0; i < count_; ++i) ordered[i] = ring_[(first + i) % kSamples];
  return estimate_period_ns(std::span<const PublishSample>(ordered.data(), count_));
}

std::optional<std::uint64_t> PublishPeriodEstimator::expected_publish_ns(std::uint64_t sequence) const noexcept {
  if (count_ == 0) return std::nullopt;
  const PublishSample& last = ring_[(next_ + kSamples - 1) % kSamples];
  if (sequence <= last.sequence) return std::nullopt;
  const auto period = period_ns();
  if (!period) return std::nullopt;
  return last.publish_ns + (sequence - last.sequence) * *period;
}

std::optional<DeadlinePlan> plan_deadline_wait(std::uint64_t now_ns, std::uint64_t expected_ns,
                                               const WaitTuning& tuning) noexcept {
  const auto max_spin = static_cast<std::uint64_t>(kMaxSpin.count());
  const auto lead = std::min(static_cast<std::uint64_t>(std::max<std::int64_t>(tuning.lead.count(), 0)), max_spin);
  const auto window =
      std::min(static_cast<std::uint64_t>(std::max<std::int64_t>(tuning.window.count(), 0)), max_spin - lead);
  const std::uint64_t spin_until = expected_ns + window;
  if (now_ns >= spin_until) return std::nullopt;
  const std::uint64_t sleep_until = expected_ns > lead ? expected_ns - lead : 0;
  return DeadlinePlan{.sleep_until_ns = sleep_until, .spin_until_ns = spin_until};
}

}  // namespace framering::ring
