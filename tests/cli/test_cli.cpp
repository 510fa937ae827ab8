// The `framering` executable as a user meets it: --help that teaches, bad input that gets a
// clear message and the documented exit code (0 ok, 2 could not start, 100+ CLI11 parse errors).
#include <gtest/gtest.h>

#include "framering/common/ring_writer.hpp"
#include "test_support.hpp"

namespace framering {
namespace {

using namespace std::chrono_literals;
using test::framering_bin;
using test::run;

TEST(Cli, HelpListsTheSubcommands) {
  const auto r = run({framering_bin(), "--help"}, 10s);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("status"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bench"), std::string::npos) << r.out;
}

TEST(Cli, NoSubcommandIsAParseErrorWithAHint) {
  const auto r = run({framering_bin()}, 10s);
  EXPECT_GE(r.exit_code, 100) << r.err;
  EXPECT_NE((r.out + r.err).find("subcommand"), std::string::npos) << r.out << r.err;
}

TEST(Cli, StatusHelpShowsItsOptionsAndDefaults) {
  const auto r = run({framering_bin(), "status", "--help"}, 10s);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--instance"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--watch"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("default"), std::string::npos) << "the default instance is shown";
}

TEST(Cli, BenchRingHelpShowsTheDefaults) {
  const auto r = run({framering_bin(), "bench", "ring", "--help"}, 10s);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("1920"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--json"), std::string::npos) << r.out;
}

TEST(Cli, EveryConsumerStageTakesAWaitStrategyAndShowsItsDefault) {
  for (const char* stage : {"display", "led", "process", "record"}) {
    const auto r = run({framering_bin(), stage, "--help"}, 10s);
    EXPECT_EQ(r.exit_code, 0) << stage;
    EXPECT_NE(r.out.find("--wait TEXT:{futex,spin,deadline}=futex"), std::string::npos) << stage << "\n" << r.out;
  }
}
TEST(Cli, UnknownWaitStrategyIsAParseErrorNamingTheStrategies) {
  const auto r = run({framering_bin(), "display", "--wait", "busy"}, 10s);
  EXPECT_GE(r.exit_code, 100) << r.err;
  EXPECT_NE(r.err.find("busy not in {futex,spin,deadline}"), std::string::npos) << r.err;
}
TEST(Cli, BenchRingHelpOffersTheWaitComparison) {
  const auto r = run({framering_bin(), "bench", "ring", "--help"}, 10s);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--compare-waits"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--wait"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--newest-cpu"), std::string::npos) << r.out;
}
TEST(Cli, StatusRejectsABadInstanceNameWithExitCode2) {
  const auto r = run({framering_bin(), "status", "--instance", "no/slashes"}, 10s);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("instance name 'no/slashes' is not valid"), std::string::npos) << r.err;
}

TEST(Cli, StatusOfAnInstanceWithoutRingsSaysSo) {
  const std::string instance = test::unique_instance();
  const auto r = run({framering_bin(), "status", "--instance", instance}, 10s);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("no rings for instance '" + instance + "'"), std::string::npos) << r.out;
}

TEST(Cli, StatusShowsALiveRing) {
  const std::string instance = test::unique_instance();
  ring::RingGeometry g;
  g.frame.width = 16;
  g.frame.height = 4;
  g.slot_count = 3;
  auto writer = ring::RingWriter::create_or_attach(instance, "raw", g);
  const auto r = run({framering_bin(), "status", "--instance", instance}, 10s);
  test::remove_instance(instance);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ring raw"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("16x4 Mono16"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("alive"), std::string::npos) << r.out;
}

TEST(Cli, OutOfRangeOptionIsAParseError) {
  const auto r = run({framering_bin(), "bench", "ring", "--slots", "1"}, 10s);
  EXPECT_GE(r.exit_code, 100);
  EXPECT_NE(r.err.find("--slots"), std::string::npos) << r.err;
}

TEST(Cli, UnknownLogLevelIsAParseError) {
  const auto r = run({framering_bin(), "status", "--log-level", "loud"}, 10s);
  EXPECT_GE(r.exit_code, 100);
  EXPECT_NE(r.err.find("loud"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace framering
