// The supervisor's plan (who produces and consumes each ring, each stage's environment and
// restart delays), its restart bookkeeping, and its report (what a run owes, the status line,
// the summary), from hand-made configs and ring snapshots: no rings, no stages running.
#include "framering/supervise/stage_plan.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include <gtest/gtest.h>

#include "framering/common/error.hpp"
#include "framering/supervise/run_report.hpp"
#include "framering/supervise/stage_process.hpp"

namespace framering::supervise {
namespace {

StageConfig builtin(const std::string& name, std::vector<RingUse> rings) {
  StageConfig s;
  s.name = name;
  s.run = name;
  s.rings = std::move(rings);
  return s;
}

PipelineConfig pipeline(std::vector<StageConfig> stages) {
  PipelineConfig c;
  c.source = "test.toml";
  c.instance = "lab";
  c.stages = std::move(stages);
  return c;
}

std::string env_of(const StagePlan& stage, const std::string& key) {
  for (const auto& [k, v] : stage.env) {
    if (k == key) return v;
  }
  return "<unset>";
}

const std::chrono::milliseconds k5s{5000};

TEST(StagePlan, ProducersWaitForTheConsumersTheirRingsHaveInThePipeline) {
  const auto sut = make_plan(pipeline({builtin("acquire", {{"raw", RingRole::Produces}}),
                                       builtin("process", {{"raw", RingRole::ConsumesNewest}, {"processed", RingRole::Produces}}),
                                       builtin("record", {{"raw", RingRole::ConsumesEvery, k5s}}),
                                       builtin("display", {{"processed", RingRole::ConsumesNewest}})}),
                             {});

  EXPECT_EQ(env_of(sut.stages[0], kStageEnvWaitForConsumers), "2");
  EXPECT_EQ(env_of(sut.stages[1], kStageEnvWaitForConsumers), "1");
  EXPECT_EQ(env_of(sut.stages[2], kStageEnvWaitForConsumers), "<unset>");
  EXPECT_EQ(env_of(sut.stages[1], kStageEnvConsumes), "raw:newest");
  EXPECT_EQ(env_of(sut.stages[1], kStageEnvProduces), "processed");
  EXPECT_EQ(env_of(sut.stages[2], kStageEnvName), "record");
  EXPECT_EQ(env_of(sut.stages[2], kStageEnvInstance), "lab");
  EXPECT_EQ(sut.rings(), (std::vector<std::string>{"processed", "raw"}));
}

TEST(StagePlan, RunFramesBoundOnlyTheSources) {
  const auto sut = make_plan(pipeline({builtin("acquire", {{"raw", RingRole::Produces}}),
                                       builtin("process", {{"raw", RingRole::ConsumesEvery}, {"out", RingRole::Produces}})}),
                             {.frames = 400});

  EXPECT_EQ(env_of(sut.stages[0], kStageEnvFrames), "400");
  EXPECT_EQ(env_of(sut.stages[1], kStageEnvFrames), "<unset>");
  EXPECT_TRUE(sut.stages[0].is_source());
  EXPECT_FALSE(sut.stages[1].is_source());
}

TEST(StagePlan, BuiltInStagesRunTheExecutableAndCommandsTheirProgram) {
  StageConfig command;
  command.name = "pattern";
  command.command = {"python3", "pattern.py", "--fast"};
  command.rings = {{"raw", RingRole::Produces}};
  StageConfig acquire = builtin("acquire", {{"raw2", RingRole::Produces}});
  acquire.args = {"--width", "64"};

  const auto sut = make_plan(pipeline({command, acquire}), {.executable = "/opt/framering"});

  EXPECT_EQ(sut.stages[0].program, "python3");
  EXPECT_TRUE(sut.stages[0].search_path);
  EXPECT_EQ(sut.stages[0].argv, command.command);
  EXPECT_EQ(sut.stages[1].program, "/opt/framering");
  EXPECT_FALSE(sut.stages[1].search_path);
  EXPECT_EQ(sut.stages[1].argv, (std::vector<std::string>{"framering", "acquire", "--width", "64"}));
}

TEST(StagePlan, TwoProducersOfOneRingAreRefusedNamingBoth) {
  auto a = builtin("acquire", {{"raw", RingRole::Produces}});
  a.line = 3;
  auto b = builtin("camera", {{"raw", RingRole::Produces}});
  b.line = 9;
  try {
    (void)make_plan(pipeline({a, b}), {});
    FAIL() << "accepted";
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind("test.toml:9:", 0), 0U) << m;
    EXPECT_NE(m.find("'camera' produces ring 'raw'"), std::string::npos) << m;
    EXPECT_NE(m.find("'acquire' (line 3)"), std::string::npos) << m;
  }
}

TEST(StagePlan, AConsumingStageWhoseNameCannotBeAConsumerNameIsRefused) {
  const std::string long_name(32, 'n');
  auto consumer = builtin(long_name, {{"raw", RingRole::ConsumesNewest}});
  consumer.line = 7;
  try {
    (void)make_plan(pipeline({builtin("acquire", {{"raw", RingRole::Produces}}), consumer}), {});
    FAIL() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("test.toml:7: [[stage]] '" + long_name + "'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("at most 31 characters"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW((void)make_plan(pipeline({builtin(long_name, {{"raw", RingRole::Produces}})}), {}))
      << "a producer's name is only a label";
}

TEST(StagePlan, AnEveryConsumersRestartDelayIsCappedAtAQuarterOfItsDeadTimeout) {
  PipelineConfig config = pipeline({builtin("record", {{"raw", RingRole::ConsumesEvery, k5s}}),
                                    builtin("check", {{"raw", RingRole::ConsumesEvery}}),  // the ring's 2 s default
                                    builtin("display", {{"raw", RingRole::ConsumesNewest}})});
  config.restart = {.max_restarts = 20, .backoff_ms = 200, .backoff_max_ms = 5000, .healthy_after_ms = 10000};

  const auto sut = make_plan(config, {});

  EXPECT_EQ(sut.stages[0].backoff_max_ms, 1250U);
  EXPECT_EQ(sut.stages[1].backoff_max_ms, 500U);
  EXPECT_EQ(sut.stages[2].backoff_max_ms, 5000U);
  std::vector<std::uint64_t> delays;
  for (std::uint32_t n = 1; n <= 7; ++n) delays.push_back(restart_delay_ms(sut.restart, sut.stages[0], n));
  EXPECT_EQ(delays, (std::vector<std::uint64_t>{200, 400, 800, 1250, 1250, 1250, 1250}));
  EXPECT_EQ(restart_delay_ms(sut.restart, sut.stages[2], 7), 5000U);
  EXPECT_EQ(restart_delay_ms(sut.restart, sut.stages[2], 1), 200U);
}

TEST(StagePlan, DescribeShowsEachStagesCommandRingsAndEnvironment) {
  const auto text = describe(make_plan(pipeline({builtin("acquire", {{"raw", RingRole::Produces}})}), {}));
  EXPECT_NE(text.find("acquire: framering acquire"), std::string::npos) << text;
  EXPECT_NE(text.find("rings: produces raw"), std::string::npos) << text;
  EXPECT_NE(text.find("FRAMERING_INSTANCE=lab"), std::string::npos) << text;
}

// A real short-lived process (/bin/false) for each start; the clock is passed in.
TEST(StageProcess, BackoffDoublesWhileItKeepsDyingAndStartsOverAfterAHealthyRun) {
  StageConfig config;
  config.name = "crasher";
  config.command = {"/bin/false"};
  const RestartPolicy policy{.max_restarts = 3, .backoff_ms = 100, .backoff_max_ms = 10000, .healthy_after_ms = 1000};
  PipelineConfig p = pipeline({config});
  p.restart = policy;
  StageProcess sut(make_plan(p, {}).stages.front(), policy);
  constexpr std::uint64_t ms = 1'000'000;
  auto run_and_die = [&](std::uint64_t start_ns, std::uint64_t end_ns) {
    EXPECT_TRUE(sut.start(start_ns));
    int status = 0;
    EXPECT_EQ(::waitpid(sut.pid(), &status, 0), sut.pid());
    return sut.ended(status, end_ns);
  };

  EXPECT_EQ(run_and_die(1000 * ms, 1010 * ms), StageProcess::End::Died);
  ASSERT_TRUE(sut.schedule_restart(1010 * ms));
  EXPECT_FALSE(sut.restart_due(1109 * ms));
  EXPECT_TRUE(sut.restart_due(1110 * ms)) << "first restart after backoff_ms";
  EXPECT_EQ(run_and_die(1110 * ms, 1120 * ms), StageProcess::End::Died);
  ASSERT_TRUE(sut.schedule_restart(1120 * ms));
  EXPECT_FALSE(sut.restart_due(1319 * ms));
  EXPECT_TRUE(sut.restart_due(1320 * ms)) << "second in a row: doubled";
  EXPECT_EQ(run_and_die(1320 * ms, 2320 * ms), StageProcess::End::Died) << "up 1 s: healthy";
  ASSERT_TRUE(sut.schedule_restart(2320 * ms));
  EXPECT_TRUE(sut.restart_due(2420 * ms)) << "after a healthy run the delay starts over";
  EXPECT_EQ(sut.restarts(), 3U);
  EXPECT_FALSE(sut.given_up());
}

TEST(StageProcess, ItIsGivenUpAfterMaxRestartsInARowAndAnEarlyExit2CouldNotStart) {
  StageConfig config;
  config.name = "bad";
  config.command = {"/bin/sh", "-c", "exit 2"};
  const RestartPolicy policy{.max_restarts = 1, .backoff_ms = 100, .backoff_max_ms = 100, .healthy_after_ms = 1000};
  PipelineConfig p = pipeline({config});
  StageProcess sut(make_plan(p, {}).stages.front(), policy);
  ASSERT_TRUE(sut.start(0));
  int status = 0;
  ASSERT_EQ(::waitpid(sut.pid(), &status, 0), sut.pid());
  EXPECT_EQ(sut.ended(status, 1'000'000), StageProcess::End::CouldNotStart);
  EXPECT_TRUE(sut.given_up());

  StageProcess again(make_plan(p, {}).stages.front(), policy);
  EXPECT_TRUE(again.schedule_restart(0));
  EXPECT_FALSE(again.schedule_restart(0)) << "the second in a row is past max_restarts = 1";
  EXPECT_TRUE(again.given_up());
}

ring::RingStatus ring_with(const std::string& name, std::uint64_t published, std::vector<ring::ConsumerStatus> consumers) {
  ring::RingStatus r;
  r.ring = name;
  r.published = published;
  r.consumers = std::move(consumers);
  return r;
}

ring::ConsumerStatus every(const std::string& name, ring::ConsumerState state, bool alive, std::uint64_t cursor) {
  ring::ConsumerStatus c;
  c.name = name;
  c.kind = ring::ConsumerKind::Every;
  c.state = state;
  c.alive = alive;
  c.cursor = cursor;
  return c;
}

TEST(RunReport, OwedFramesAreThoseOfDeadOrEvictedEveryConsumersOnly) {
  ring::ConsumerStatus newest;
  newest.name = "display";
  newest.kind = ring::ConsumerKind::Newest;
  newest.state = ring::ConsumerState::Active;
  newest.cursor = 3;
  const auto rings = std::vector<ring::RingStatus>{
      ring_with("raw", 100, {every("record", ring::ConsumerState::Active, false, 84),   // died owing 84..99
                             every("done", ring::ConsumerState::Free, false, 50),        // detached by choice
                             every("live", ring::ConsumerState::Active, true, 90),       // alive: not owed yet
                             every("gone", ring::ConsumerState::Evicted, false, 60),     // evicted: lost
                             newest}),
      ring_with("processed", 10, {every("drained", ring::ConsumerState::Active, false, 10)})};

  const auto sut = unrecorded_frames(rings);

  ASSERT_EQ(sut.size(), 2U);
  EXPECT_EQ(sut[0].consumer, "record");
  EXPECT_EQ(sut[0].first, 84U);
  EXPECT_EQ(sut[0].last, 99U);
  EXPECT_EQ(sut[0].count(), 16U);
  EXPECT_TRUE(sut[0].held);
  EXPECT_EQ(sut[1].consumer, "gone");
  EXPECT_FALSE(sut[1].held);
}

TEST(RunReport, SummaryCountsOwedFramesAsLostListsThemAndExitsThree) {
  StageConfig rec = builtin("record", {{"raw", RingRole::ConsumesEvery, k5s}});
  const auto plan = make_plan(pipeline({builtin("acquire", {{"raw", RingRole::Produces}}), rec}), {});
  std::vector<StageProcess> stages;
  for (const auto& s : plan.stages) stages.emplace_back(s, plan.restart);
  auto raw = ring_with("raw", 100, {every("record", ring::ConsumerState::Active, false, 84)});
  raw.blocked_s = 1.5;
  const std::vector<ring::RingStatus> rings{raw};

  const auto sut = summarize_run("lab", "test.toml", 2.0, stages, rings, unrecorded_frames(rings), false);

  EXPECT_EQ(sut.exit_code, 3);
  EXPECT_NE(sut.text.find("OWED 16 frames [84, 99] of ring raw that consumer record never took"), std::string::npos)
      << sut.text;
  EXPECT_EQ(sut.json["stages"][1]["owed"], 16);
  EXPECT_EQ(sut.json["stages"][1]["lost"], 16);
  EXPECT_EQ(sut.json["stages"][0]["blocked_s"], 1.5);
  EXPECT_EQ(sut.json["stages"][0]["frames"], 100);
  EXPECT_EQ(sut.json["unrecorded"][0]["first"], 84);
}

TEST(RunReport, NothingOwedNothingLostIsExitZero) {
  const auto plan = make_plan(pipeline({builtin("acquire", {{"raw", RingRole::Produces}})}), {});
  std::vector<StageProcess> stages;
  for (const auto& s : plan.stages) stages.emplace_back(s, plan.restart);
  const std::vector<ring::RingStatus> rings{ring_with("raw", 100, {})};

  const auto sut = summarize_run("lab", "test.toml", 2.0, stages, rings, {}, false);

  EXPECT_EQ(sut.exit_code, 0);
  EXPECT_NE(sut.text.find("ok, nothing lost"), std::string::npos);
}

}  // namespace
}  // namespace framering::supervise
