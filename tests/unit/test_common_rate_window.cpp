#include "framering/common/rate_window.hpp"

#include <gtest/gtest.h>

namespace framering {
namespace {

TEST(RateWindow, YieldsNothingUntilAWindowHasPassed) {
  RateWindow sut(1'000'000'000);
  EXPECT_FALSE(sut.tick(1'000).has_value());
  EXPECT_FALSE(sut.tick(500'000'000).has_value());
}

TEST(RateWindow, YieldsMilliEventsPerSecondOverTheWindow) {
  RateWindow sut(1'000'000'000);
  std::uint64_t t = 10'000'000'000;
  (void)sut.tick(t);  // opens the window
  std::optional<std::uint64_t> rate;
  for (int i = 1; i <= 30 && !rate; ++i) rate = sut.tick(t + static_cast<std::uint64_t>(i) * 40'000'000);  // 25 Hz
  ASSERT_TRUE(rate.has_value());
  EXPECT_EQ(*rate, 25'000U);
}

TEST(RateWindow, StartsANewWindowAfterYielding) {
  RateWindow sut(100);
  (void)sut.tick(1'000);
  ASSERT_TRUE(sut.tick(1'100).has_value());
  EXPECT_FALSE(sut.tick(1'150).has_value());
  const auto rate = sut.tick(1'200);
  ASSERT_TRUE(rate.has_value());
  EXPECT_EQ(*rate, 2ULL * 1'000'000'000'000ULL / 100);
}

}  // namespace
}  // namespace framering
