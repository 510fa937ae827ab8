// The wait strategies' pure parts: names and the --wait option, the producer-period estimator
// and the deadline plan, all on fixed numbers (no clock, no ring).
#include "framering/common/wait_strategy.hpp"

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <gtest/gtest.h>

#include "framering/common/cli_options.hpp"
#include "framering/common/ring_reader.hpp"

namespace framering::ring {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t kT0 = 1'000'000'000'000ULL;  // an arbitrary CLOCK_MONOTONIC origin, ns

TEST(WaitStrategyNames, EachStrategyParsesBackFromItsName) {
  for (const auto s : {WaitStrategy::Futex, WaitStrategy::Spin, WaitStrategy::Deadline}) {
    EXPECT_EQ(parse_wait_strategy(to_string(s)), s) << to_string(s);
  }
  EXPECT_EQ(to_string(WaitStrategy::Futex), "futex");
  EXPECT_EQ(to_string(WaitStrategy::Spin), "spin");
  EXPECT_EQ(to_string(WaitStrategy::Deadline), "deadline");
}

TEST(WaitStrategyNames, OtherSpellingsAreRejected) {
  for (const char* bad : {"", "Futex", "SPIN", "spin ", "dead", "poll", "deadline-aware"}) {
    EXPECT_FALSE(parse_wait_strategy(bad).has_value()) << "'" << bad << "'";
  }
}

TEST(WaitStrategyNames, TheDefaultIsFutex) {
  EXPECT_EQ(kDefaultWaitStrategy, WaitStrategy::Futex);
  EXPECT_EQ(ReaderOptions{}.wait, kDefaultWaitStrategy);
}

class WaitOption : public ::testing::Test {
 protected:
  WaitStrategy parse(std::vector<std::string> args) {
    CLI::App app{"test"};
    WaitStrategy strategy = kDefaultWaitStrategy;
    add_wait_option(app, strategy);
    std::reverse(args.begin(), args.end());  // CLI11 takes them back to front
    app.parse(args);
    return strategy;
  }
};

TEST_F(WaitOption, IsTheDefaultWhenAbsent) { EXPECT_EQ(parse({}), kDefaultWaitStrategy); }

TEST_F(WaitOption, TakesEachStrategyByName) {
  EXPECT_EQ(parse({"--wait", "futex"}), WaitStrategy::Futex);
  EXPECT_EQ(parse({"--wait", "spin"}), WaitStrategy::Spin);
  EXPECT_EQ(parse({"--wait=deadline"}), WaitStrategy::Deadline);
}

TEST_F(WaitOption, RejectsAnUnknownStrategyNamingTheAcceptedOnes) {
  try {
    (void)parse({"--wait", "busy"});
    FAIL() << "--wait busy was accepted";
  } catch (const CLI::ValidationError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("futex"), std::string::npos) << what;
    EXPECT_NE(what.find("deadline"), std::string::npos) << what;
  }
}

TEST_F(WaitOption, HelpShowsTheDefault) {
  CLI::App app{"test"};
  WaitStrategy strategy = WaitStrategy::Deadline;
  add_wait_option(app, strategy);
  EXPECT_NE(app.help().find("=deadline"), std::string::npos) << app.help();
}

// ---- estimate_period_ns ---------------------------------------------------------------------

TEST(EstimatePeriod, NeedsTwoSamples) {
  EXPECT_FALSE(estimate_period_ns({}).has_value());
  const std::array<PublishSample, 1> one{{{5, kT0}}};
  EXPECT_FALSE(estimate_period_ns(one).has_value());
}

TEST(EstimatePeriod, ConsecutiveFramesGiveTheirSpacing) {
  const std::array<PublishSample, 4> s{{{10, kT0}, {11, kT0 + 500'000}, {12, kT0 + 1'000'000}, {13, kT0 + 1'500'000}}};
  EXPECT_EQ(estimate_period_ns(s), 500'000U);
}

TEST(EstimatePeriod, SamplesFarApartInSequenceAreDividedByTheFramesBetweenThem) {
  // A 60 Hz consumer of a 1620 fps producer sees one frame in 27.
  const std::array<PublishSample, 3> s{{{0, kT0}, {27, kT0 + 27 * 617'000}, {55, kT0 + 55 * 617'000}}};
  EXPECT_EQ(estimate_period_ns(s), 617'000U);
}

TEST(EstimatePeriod, AMinorityOfPairsSpanningAPauseDoNotMoveIt) {
  const std::array<PublishSample, 5> s{
      {{0, kT0}, {1, kT0 + 1000}, {2, kT0 + 2000}, {3, kT0 + 900'000}, {4, kT0 + 901'000}}};
  EXPECT_EQ(estimate_period_ns(s), 1000U);
}

TEST(EstimatePeriod, TwoPairsGiveTheShorterPeriod) {
  const std::array<PublishSample, 3> s{{{0, kT0}, {1, kT0 + 1000}, {2, kT0 + 5000}}};
  EXPECT_EQ(estimate_period_ns(s), 1000U);
}

TEST(EstimatePeriod, PairsWhoseSequenceOrTimeDoesNotIncreaseAreIgnored) {
  const std::array<PublishSample, 5> s{
      {{0, kT0}, {0, kT0 + 50}, {2, kT0 + 2000}, {3, kT0 + 1000}, {4, kT0 + 3000}}};
  // usable pairs: (0,kT0+50)->(2,kT0+2000) = 975; (3,kT0+1000)->(4,kT0+3000) = 2000
  EXPECT_EQ(estimate_period_ns(s), 975U);
  const std::array<PublishSample, 2> backwards{{{7, kT0 + 100}, {6, kT0 + 200}}};
  EXPECT_FALSE(estimate_period_ns(backwards).has_value());
}

TEST(EstimatePeriod, OnlyTheLast64PairsCount) {
  std::vector<PublishSample> s;
  for (std::uint64_t i = 0; i < 100; ++i) s.push_back({i, kT0 + i * 9'000});            // 100 frames at 9 µs
  for (std::uint64_t i = 1; i <= 65; ++i) s.push_back({99 + i, kT0 + 99 * 9'000 + i * 2'000});  // then 65 at 2 µs
  EXPECT_EQ(estimate_period_ns(s), 2'000U);
}

TEST(EstimatePeriod, WorksPastTwoToThe32) {
  const std::uint64_t base = (std::uint64_t{1} << 32) - 1;
  const std::array<PublishSample, 3> s{{{base, kT0}, {base + 1, kT0 + 333}, {base + 2, kT0 + 666}}};
  EXPECT_EQ(estimate_period_ns(s), 333U);
}

// ---- PublishPeriodEstimator -----------------------------------------------------------------

TEST(PublishPeriodEstimator, PredictsNothingUntilItHasAPeriod) {
  PublishPeriodEstimator sut;
  EXPECT_FALSE(sut.period_ns().has_value());
  EXPECT_FALSE(sut.expected_publish_ns(1).has_value());
  sut.add({0, kT0});
  EXPECT_FALSE(sut.expected_publish_ns(1).has_value());
}

TEST(PublishPeriodEstimator, NextFrameIsDueOnePeriodAfterTheLast) {
  PublishPeriodEstimator sut;
  sut.add({100, kT0});
  sut.add({101, kT0 + 16'667});
  sut.add({102, kT0 + 33'334});
  EXPECT_EQ(sut.period_ns(), 16'667U);
  EXPECT_EQ(sut.expected_publish_ns(103), kT0 + 33'334 + 16'667);
  EXPECT_EQ(sut.expected_publish_ns(105), kT0 + 33'334 + 3 * 16'667);
  EXPECT_FALSE(sut.expected_publish_ns(102).has_value());  // already published
}

TEST(PublishPeriodEstimator, IgnoresSamplesNotNewerThanTheLast) {
  PublishPeriodEstimator sut;
  sut.add({10, kT0});
  sut.add({11, kT0 + 1000});
  sut.add({11, kT0 + 999'999});  // the same frame seen again
  sut.add({3, kT0 + 5});         // an older one
  EXPECT_EQ(sut.size(), 2U);
  EXPECT_EQ(sut.period_ns(), 1000U);
}

TEST(PublishPeriodEstimator, KeepsTheLastSamplesWhenItWraps) {
  PublishPeriodEstimator sut;
  for (std::uint64_t i = 0; i < 40; ++i) sut.add({i, kT0 + i * 7'000});
  for (std::uint64_t i = 40; i < 40 + PublishPeriodEstimator::kSamples; ++i) {
    sut.add({i, kT0 + 39 * 7'000 + (i - 39) * 3'000});
  }
  EXPECT_EQ(sut.size(), PublishPeriodEstimator::kSamples);
  EXPECT_EQ(sut.period_ns(), 3'000U);
  const std::uint64_t last = 40 + PublishPeriodEstimator::kSamples - 1;
  EXPECT_EQ(sut.expected_publish_ns(last + 1), kT0 + 39 * 7'000 + (last - 39) * 3'000 + 3'000);
}

// ---- plan_deadline_wait ---------------------------------------------------------------------

TEST(PlanDeadlineWait, SleepsUntilLeadBeforeTheFrameThenPollsUntilWindowAfter) {
  const WaitTuning t{.spin = 50us, .lead = 80us, .window = 40us};
  const auto plan = plan_deadline_wait(kT0, kT0 + 600'000, t);
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(*plan, (DeadlinePlan{.sleep_until_ns = kT0 + 520'000, .spin_until_ns = kT0 + 640'000}));
}

TEST(PlanDeadlineWait, PollsAtOnceWhenTheFrameIsDueWithinTheLead) {
  const WaitTuning t{.spin = 50us, .lead = 80us, .window = 40us};
  const auto plan = plan_deadline_wait(kT0, kT0 + 30'000, t);
  ASSERT_TRUE(plan.has_value());
  EXPECT_LE(plan->sleep_until_ns, kT0);
  EXPECT_EQ(plan->spin_until_ns, kT0 + 70'000);
}

TEST(PlanDeadlineWait, NeverPollsForAnOverdueFrame) {
  const WaitTuning t{.spin = 50us, .lead = 80us, .window = 40us};
  EXPECT_FALSE(plan_deadline_wait(kT0 + 40'000, kT0, t).has_value());  // exactly window late
  EXPECT_FALSE(plan_deadline_wait(kT0 + 5'000'000, kT0, t).has_value());
  EXPECT_TRUE(plan_deadline_wait(kT0 + 39'999, kT0, t).has_value());
}

TEST(PlanDeadlineWait, LeadAndWindowTogetherAreClampedToTheLongestPoll) {
  const WaitTuning t{.spin = 50us, .lead = 400us, .window = 400us};
  const auto plan = plan_deadline_wait(kT0, kT0 + 10'000'000, t);
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->spin_until_ns - plan->sleep_until_ns, static_cast<std::uint64_t>(kMaxSpin.count()));
  EXPECT_EQ(plan->sleep_until_ns, kT0 + 10'000'000 - 400'000);
}

TEST(PlanDeadlineWait, AFrameDueNearTimeZeroSleepsNotAtAll) {
  const WaitTuning t{.spin = 50us, .lead = 80us, .window = 40us};
  const auto plan = plan_deadline_wait(0, 10'000, t);
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->sleep_until_ns, 0U);
  EXPECT_EQ(plan->spin_until_ns, 50'000U);
}

}  // namespace
}  // namespace framering::ring
