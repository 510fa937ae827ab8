// live_params.hpp: the supervisor's side of the stages' live parameters (docs/http-api.md, "Live
// parameters"; the stage's side and the messages are in common/stage_control.hpp).
//
// A PATCH becomes a "set" on the stage's control channel with the next settings generation of
// the run; its HTTP reply waits (the supervisor loop goes on) until the stage answers:
//   refused                   -> 422 / 409 with the stage's sentence
//   applied, then took_effect -> 200 {generation, sequence, ring, values}
//   applied, no frame within kEffectWait   -> 202 (sequence null: nothing has passed the stage yet)
//   no answer within kAnswerWait            -> 504
//   the stage died first                    -> 409 (not applied) or 202 (applied; its restart keeps it)
// What was applied is kept per stage and sent again to each new process of it (a restart keeps
// the live settings and their generation). Used by the supervisor's main thread only.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framering/common/stage_control.hpp"
#include "framering/supervise/run_service.hpp"

namespace framering::supervise {

class LiveParams {
 public:
  /// How long a stage may take to apply (or refuse) a change: it does so between frames, and a
  /// stage waiting for frames looks at its channel at least every 100 ms (stage::kPollPeriod).
  static constexpr std::chrono::seconds kAnswerWait{5};
  /// How long after applying a change the reply waits for the first frame made with it.
  static constexpr std::chrono::seconds kEffectWait{3};

  /// `post_event(type, data)` publishes "settings_changed" events (RunService::post_event).
  explicit LiveParams(std::function<void(std::string, nlohmann::json)> post_event)
      : post_event_(std::move(post_event)) {}

  /// PATCH for `stage`, whose running process is `pid` with control channel `fd` (-1: none, or
  /// not running). Either answers `reply` now (400/409/422) or sends the change and keeps
  /// `reply` until the stage answers (see the file comment).
  void patch(const PatchParams& request, pid_t pid, int fd, std::promise<Reply> reply, std::uint64_t now_ns);

  /// Reads every message waiting on `stage`'s channel `fd` (its process `pid`): its hello (then
  /// the changes kept for it are sent again), answers to changes. Never blocks. False when the
  /// stage has closed its end (it exited, or closed the descriptors it inherited): the caller
  /// closes the channel, whose end-of-file would otherwise wake every poll on it at once.
  [[nodiscard]] bool read(const std::string& stage, pid_t pid, int fd, std::uint64_t now_ns);

  /// The process `pid` of `stage` ended: changes waiting on it are answered.
  void ended(const std::string& stage, pid_t pid);

  /// Answers the changes whose wait ran out.
  void expire(std::uint64_t now_ns);

  /// The run is ending: answers every change still waiting (503; 202 when already applied).
  void close();

  /// Sends the answers read(), ended(), expire() and close() decided. Call it after publishing
  /// the run's snapshot, so that a client that has its answer sees the state it describes (GET
  /// params, GET settings).
  void deliver();

  /// What GET /api/v1/stages/{stage}/params shows: the specs its last process said hello with,
  /// with current values; null when it never said hello.
  [[nodiscard]] nlohmann::json params_of(const std::string& stage) const;

  /// {"generation": newest, "changes": [{generation, stage, values, sequence, ring, utc}, ...]}.
  [[nodiscard]] nlohmann::json settings() const;

 private:
  struct Pending {
    std::uint64_t id = 0;
    std::string stage;
    pid_t pid = 0;
    nlohmann::json values;  ///< the changes asked for
    std::uint32_t generation = 0;
    std::promise<Reply> reply;  ///< moved to answers_ when answered
    bool replied = false;
    bool applied = false;
    nlohmann::json applied_values;  ///< every value after the change (the stage's "applied")
    std::uint64_t deadline_ns = 0;
  };
  struct StageState {
    nlohmann::json specs;                                 ///< the hello's params, values kept current
    nlohmann::json kept = nlohmann::json::object();       ///< changes applied over the run
    std::uint32_t generation = 0;                         ///< of the newest of them
    pid_t hello_pid = 0;                                  ///< the process that said hello
  };

  void handle(StageState& state, const std::string& stage, pid_t pid, int fd, const nlohmann::json& message,
              std::uint64_t now_ns);
  void answer(Pending& p, Reply reply);
  /// A change that was certainly not applied gives its generation back when no later one took
  /// a number: generations count applied changes, with a hole only where refusals interleave.
  void give_back(const Pending& p) noexcept;
  void log_change(const Pending& p, const nlohmann::json& sequence, const std::string& ring);

  std::function<void(std::string, nlohmann::json)> post_event_;
  std::map<std::string, StageState> stages_;
  std::vector<Pending> pending_;
  std::vector<std::pair<std::promise<Reply>, Reply>> answers_;  ///< decided, not delivered yet
  std::uint64_t next_id_ = 1;
  std::uint32_t generation_ = 0;  ///< the run's newest settings generation
  nlohmann::json log_ = nlohmann::json::array();
};

}  // namespace framering::supervise
