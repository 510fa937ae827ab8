// stage::Control (common/stage_control.hpp) against the supervisor's side (supervise/live_params.hpp)
// over a real socketpair in one process: hello and welcome, a change applied and acknowledged
// with its frame, refusals that name the parameter, and a restart that gets the kept changes.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <future>
#include <optional>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "framering/common/stage_control.hpp"
#include "framering/supervise/live_params.hpp"

namespace framering {
namespace {

using stage::ParamSpec;
using Type = ParamSpec::Type;

std::vector<ParamSpec> specs() {
  return {{.name = "cutoff", .type = Type::Number, .value = 0.2, .min = 0.01, .max = 0.5, .units = "cycles/pixel"},
          {.name = "mode", .type = Type::Choice, .value = "a", .choices = {"a", "b"}},
          {.name = "threads", .type = Type::Integer, .value = 1, .min = 1, .max = 8, .live = false}};
}

TEST(StageControlCheck, EachTypeAndRangeIsCheckedAndTheMessageNamesTheParameterAndWhatIsAllowed) {
  const auto s = specs();
  EXPECT_EQ(stage::check_value(s[0], 0.3, "process"), std::nullopt);
  const auto high = stage::check_value(s[0], 0.9, "process");
  ASSERT_TRUE(high.has_value());
  EXPECT_EQ(high->status, 422);
  EXPECT_EQ(high->field, "cutoff");
  EXPECT_EQ(high->error, "process: parameter 'cutoff' must be a number in [0.01, 0.5] cycles/pixel, not 0.9");
  EXPECT_TRUE(stage::check_value(s[0], "0.3", "process").has_value());
  EXPECT_TRUE(stage::check_value(s[0], nullptr, "process").has_value());
  EXPECT_EQ(stage::check_value(s[1], "b", "process"), std::nullopt);
  EXPECT_NE(stage::check_value(s[1], "c", "process")->error.find("one of a, b"), std::string::npos);
  const auto fixed = stage::check_value(s[2], 2, "process");
  ASSERT_TRUE(fixed.has_value());
  EXPECT_EQ(fixed->status, 409) << "a parameter that needs a restart";
}

class StageControl : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds_), 0);
    ::setenv(kStageEnvControlFd, std::to_string(fds_[1]).c_str(), 1);
  }
  void TearDown() override {
    ::unsetenv(kStageEnvControlFd);
    ::close(fds_[0]);
  }

  // The stage's side, made on a thread: its constructor waits for the welcome that `live_`
  // sends when it reads the hello.
  std::unique_ptr<stage::Control> make_stage(pid_t pid) {
    auto made = std::async(std::launch::async, [&] {
      return std::make_unique<stage::Control>("process", specs(), [&](const nlohmann::json& changes) {
        applied_ = changes;
        return changes.contains("mode") && changes["mode"] == "b" && changes.value("cutoff", 0.0) > 0.4
                   ? std::optional<stage::Refusal>(stage::Refusal{422, "mode", "b takes cutoffs up to 0.4"})
                   : std::nullopt;
      });
    });
    while (made.wait_for(std::chrono::milliseconds(1)) != std::future_status::ready) (void)live_.read("process", pid, fds_[0], 0);
    return made.get();
  }

  supervise::Reply patch(stage::Control& control, const nlohmann::json& values, pid_t pid) {
    std::promise<supervise::Reply> promise;
    auto reply = promise.get_future();
    live_.patch({"process", values}, pid, fds_[0], std::move(promise), 0);
    control.poll();
    control.took_effect(41, "processed");
    (void)live_.read("process", pid, fds_[0], 0);
    live_.deliver();
    return reply.get();
  }

  int fds_[2] = {-1, -1};
  nlohmann::json applied_;
  std::vector<std::pair<std::string, nlohmann::json>> events_;
  supervise::LiveParams live_{[this](std::string type, nlohmann::json data) { events_.emplace_back(type, data); }};
};

TEST_F(StageControl, AChangeIsAppliedAndAcknowledgedWithTheFirstFrameMadeWithIt) {
  auto control = make_stage(100);
  ASSERT_TRUE(control->active());
  EXPECT_EQ(live_.params_of("process").size(), 3U) << "the hello's specs";
  const auto reply = patch(*control, {{"cutoff", 0.1}}, 100);
  EXPECT_EQ(reply.status, 200) << reply.body.dump();
  EXPECT_EQ(reply.body["generation"], 1);
  EXPECT_EQ(reply.body["sequence"], 41);
  EXPECT_EQ(reply.body["ring"], "processed");
  EXPECT_EQ(reply.body["values"]["cutoff"], 0.1);
  EXPECT_EQ(applied_, nlohmann::json({{"cutoff", 0.1}}));
  EXPECT_EQ(control->generation(), 1U);
  EXPECT_EQ(control->value("cutoff"), 0.1);
  ASSERT_EQ(events_.size(), 1U);
  EXPECT_EQ(events_[0].first, "settings_changed");
  EXPECT_EQ(live_.settings()["changes"][0]["sequence"], 41);
}

TEST_F(StageControl, RefusalsAnswerWithTheStagesReasonAndChangeNothing) {
  auto control = make_stage(100);
  const auto unknown = patch(*control, {{"gain", 2}}, 100);
  EXPECT_EQ(unknown.status, 422);
  EXPECT_EQ(unknown.body["field"], "gain");
  EXPECT_EQ(unknown.body["error"], "process: no parameter 'gain' (it has: cutoff, mode, threads)");
  const auto combination = patch(*control, {{"mode", "b"}, {"cutoff", 0.45}}, 100);
  EXPECT_EQ(combination.status, 422);
  EXPECT_EQ(combination.body["error"], "b takes cutoffs up to 0.4");
  const auto restart = patch(*control, {{"threads", 2}}, 100);
  EXPECT_EQ(restart.status, 409);
  EXPECT_EQ(control->generation(), 0U);
  EXPECT_EQ(control->value("cutoff"), 0.2);
  EXPECT_EQ(live_.settings()["generation"], 0) << "refused changes give their generation back";
  EXPECT_TRUE(events_.empty());
}

TEST_F(StageControl, ANewProcessOfTheStageGetsTheKeptChangesBeforeItsFirstFrame) {
  {
    auto first = make_stage(100);
    ASSERT_EQ(patch(*first, {{"mode", "b"}}, 100).status, 200);
    ASSERT_EQ(patch(*first, {{"cutoff", 0.3}}, 100).status, 200);
  }
  live_.ended("process", 100);
  ::close(fds_[0]);
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds_), 0);  // the restart's channel
  ::setenv(kStageEnvControlFd, std::to_string(fds_[1]).c_str(), 1);
  auto second = make_stage(200);
  EXPECT_EQ(second->value("mode"), "b") << "applied before the constructor returned";
  EXPECT_EQ(second->value("cutoff"), 0.3);
  EXPECT_EQ(second->generation(), 2U);
}

TEST_F(StageControl, AChannelTheStageClosedIsReportedSoTheSupervisorStopsWatchingIt) {
  {
    auto control = make_stage(100);
    EXPECT_TRUE(live_.read("process", 100, fds_[0], 0)) << "open, nothing waiting";
  }  // the stage's end closes (it exited, or closed what it inherited): end-of-file from now on
  EXPECT_FALSE(live_.read("process", 100, fds_[0], 0));
}

TEST_F(StageControl, AStageEndedBeforeAnsweringIsA409AndOneNotRunningToo) {
  auto control = make_stage(100);
  std::promise<supervise::Reply> promise;
  auto reply = promise.get_future();
  live_.patch({"process", {{"cutoff", 0.1}}}, 100, fds_[0], std::move(promise), 0);
  live_.ended("process", 100);
  live_.deliver();
  EXPECT_EQ(reply.get().status, 409);
  std::promise<supervise::Reply> later;
  auto not_running = later.get_future();
  live_.patch({"process", {{"cutoff", 0.1}}}, 0, -1, std::move(later), 0);
  EXPECT_EQ(not_running.get().status, 409);
}

}  // namespace
}  // namespace framering
