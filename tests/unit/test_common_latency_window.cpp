#include "framering/common/latency_window.hpp"

#include <gtest/gtest.h>

namespace framering {
namespace {

TEST(LatencyWindow, HasNoFiguresBeforeTheFirstFrame) {
  LatencyWindow sut;
  EXPECT_FALSE(sut.dirty());
  const auto f = sut.figures();
  EXPECT_EQ(f.frames, 0U);
  EXPECT_EQ(f.max_ns, 0U);
}

TEST(LatencyWindow, GivesNearestRankPercentilesAndTheMaximum) {
  LatencyWindow sut;
  for (std::uint64_t ns = 100; ns >= 1; --ns) sut.add(ns * 1000);  // 1..100 µs, in any order
  ASSERT_TRUE(sut.dirty());
  const auto f = sut.figures();
  EXPECT_FALSE(sut.dirty());
  EXPECT_EQ(f.frames, 100U);
  EXPECT_EQ(f.p50_ns, 50'000U) << "the 50th of 100";
  EXPECT_EQ(f.p99_ns, 99'000U) << "the 99th of 100";
  EXPECT_EQ(f.max_ns, 100'000U);
}

TEST(LatencyWindow, OneFrameIsItsOwnP50P99AndMax) {
  LatencyWindow sut;
  sut.add(42);
  const auto f = sut.figures();
  EXPECT_EQ(f.frames, 1U);
  EXPECT_EQ(f.p50_ns, 42U);
  EXPECT_EQ(f.p99_ns, 42U);
  EXPECT_EQ(f.max_ns, 42U);
}

TEST(LatencyWindow, KeepsOnlyTheLastFramesRead) {
  LatencyWindow sut;
  sut.add(1'000'000'000);  // one slow frame, long ago
  for (std::size_t i = 0; i < LatencyWindow::kFrames; ++i) sut.add(10);
  const auto f = sut.figures();
  EXPECT_EQ(f.frames, LatencyWindow::kFrames);
  EXPECT_EQ(f.max_ns, 10U) << "the slow frame has left the window";
}

}  // namespace
}  // namespace framering
