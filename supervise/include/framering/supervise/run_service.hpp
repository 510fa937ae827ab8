// run_service.hpp: where `framering run`'s supervisor loop (its main thread) and the HTTP
// server's threads (http_server.hpp) meet. Nothing else is shared between them.
//
//   HTTP thread                          RunService (one mutex)             supervisor loop (main thread)
//   GET  status, recordings ──snapshot()──► [StageView..., RecordingView...] ◄──publish()── every tick
//   POST recordings, stop   ──submit()────► [command queue] ──take_commands()──► starts/stops recorders,
//        waits on the reply future ◄─────────────────────────── reply.set_value()  (forks happen here only)
//   PATCH stage params      ──submit()────► [command queue] ──► sent on the stage's control channel;
//                                                                 answered when the stage says it took effect
//   GET  events (SSE)       ──wait_events()► [event log, ids 1, 2, ...] ◄──post_event()── restarts, recordings, losses
//
// A message queue rather than a lock around the supervisor's own state: the supervisor stays
// single-threaded (its StageProcess objects, waitpid, fork), and stages are forked by the thread
// that lives as long as the run (PR_SET_PDEATHSIG is tied to the forking thread).
// docs/design-decisions.md, "The HTTP API's threads".
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace framering::supervise {

/// One stage as the supervisor last published it.
struct StageView {
  std::string name;
  std::string state;  ///< "running", "restarting" (waiting out its delay), "given_up", "stopped" (ended, or not started)
  std::uint32_t restarts = 0;
  std::int64_t pid = 0;  ///< of the running process; 0 when none runs
  std::string last_exit;
  /// Its live parameters as its running process last said (stage_control.hpp: an array of
  /// ParamSpec::to_json with current values); null when it offers none or has not said yet.
  nlohmann::json params = nullptr;
};

/// One recording started through the API, as the supervisor last published it.
struct RecordingView {
  std::string id;      ///< "rec-" + 8 hex digits: also its consumer name on the ring
  std::string name;    ///< its folder's name inside `root`
  std::string ring;
  std::string root;
  std::string path;    ///< root/name
  std::string state;   ///< "recording", "stopping" (draining after a stop), "finished", "failed"
  std::uint64_t frames_wanted = 0;  ///< 0 = until stopped (or `seconds`)
  double seconds = 0;               ///< 0 = no time limit
  std::string on_drop;              ///< "continue" | "fail"
  std::int64_t pid = 0;             ///< of the running recorder; 0 when none runs
  std::uint32_t restarts = 0;
  std::string started_utc;
  /// Once ended: from its manifest.json ("complete", "frames", "lost", "stop", ...) and its exit.
  nlohmann::json result = nullptr;
};

/// `POST /api/v1/recordings`, checked (recording_request.hpp).
struct StartRecording {
  std::string name;
  std::string ring;
  std::string root;            ///< one of the pipeline's recording roots
  std::uint64_t frames = 0;    ///< 0 = not bounded by frames
  double seconds = 0;          ///< 0 = not bounded by time
  bool fail_on_drop = false;
  bool force = false;
  double stall_timeout_s = 0;  ///< 0 = the record stage's default
};

/// `POST /api/v1/recordings/{id}/stop`.
struct StopRecording {
  std::string id;
};

/// `PATCH /api/v1/stages/{name}/params`: {name: value, ...} for one stage.
struct PatchParams {
  std::string stage;
  nlohmann::json values;
};

/// What the supervisor answers a command: an HTTP status and a JSON body.
struct Reply {
  int status = 200;
  nlohmann::json body;
};

/// One command and the promise its HTTP thread waits on.
struct Command {
  std::variant<StartRecording, StopRecording, PatchParams> what;
  std::promise<Reply> reply;
};

/// One server-sent event: `id` counts from 1 over the run.
struct Event {
  std::uint64_t id = 0;
  std::string type;     ///< "stage_restarted", "stage_given_up", "recording_started", "recording_finished", "loss"
  nlohmann::json data;
};

/// The shared state. Every member function may be called from any thread; the comments say who
/// calls each one.
class RunService {
 public:
  /// Events kept for clients that reconnect with Last-Event-ID; older ones are dropped.
  static constexpr std::size_t kEventsKept = 1000;

  RunService();
  ~RunService();
  RunService(const RunService&) = delete;
  RunService& operator=(const RunService&) = delete;

  /// Supervisor: replaces the published stages, recordings and settings log ({"generation",
  /// "changes": [...]}: docs/http-api.md "Live parameters").
  void publish(std::vector<StageView> stages, std::vector<RecordingView> recordings, bool stopping,
               nlohmann::json settings = nullptr);

  /// What the supervisor last published, copied out for one request.
  struct Snapshot {
    std::vector<StageView> stages;
    std::vector<RecordingView> recordings;
    bool stopping = false;
    nlohmann::json settings;
  };
  /// HTTP: a copy of what was last published; `stopping` also once closed.
  [[nodiscard]] Snapshot snapshot() const;

  /// HTTP: queues `what` for the supervisor loop and waits up to `timeout` for its reply.
  /// 503 when the run is stopping (or stops while waiting), or when no reply came in time.
  [[nodiscard]] Reply submit(std::variant<StartRecording, StopRecording, PatchParams> what,
                             std::chrono::milliseconds timeout);

  /// Supervisor: the commands queued since the last call, oldest first. It must set each reply.
  [[nodiscard]] std::vector<Command> take_commands();

  /// Supervisor: sleeps up to `timeout`, waking at once when a command is queued or one of
  /// `fds` (the stages' control channels) is readable: the supervision loop's period.
  void wait_for_commands(std::chrono::nanoseconds timeout, std::span<const int> fds = {});

  /// Supervisor: appends an event and wakes the SSE streams.
  void post_event(std::string type, nlohmann::json data);

  /// HTTP: the events with id > `after`, waiting up to `timeout` for one when there is none yet.
  /// Empty on timeout or once closed. `*dropped` (when given) is set when events after `after`
  /// were already dropped from the log (the client missed some).
  [[nodiscard]] std::vector<Event> wait_events(std::uint64_t after, std::chrono::milliseconds timeout,
                                               bool* dropped = nullptr) const;

  /// The newest event's id (0 = none yet): where a new SSE stream starts.
  [[nodiscard]] std::uint64_t last_event_id() const;

  /// Supervisor, at the end of the run: refuses new commands (503), answers the queued ones with
  /// 503 and wakes every waiting stream so that the server can stop.
  void close();
  /// Whether close() was called: SSE streams end.
  [[nodiscard]] bool closed() const;

 private:
  mutable std::mutex mutex_;
  int wake_fd_ = -1;  ///< an eventfd: submit() and close() wake wait_for_commands()
  mutable std::condition_variable events_cv_;
  std::vector<StageView> stages_;
  std::vector<RecordingView> recordings_;
  bool stopping_ = false;
  nlohmann::json settings_;
  bool closed_ = false;
  std::deque<Command> commands_;
  std::deque<Event> events_;
  std::uint64_t next_event_id_ = 1;
};

}  // namespace framering::supervise
