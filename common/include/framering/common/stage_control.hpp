// stage_control.hpp: a stage's live parameters, changed while it runs (`PATCH
// /api/v1/stages/{name}/params`, docs/http-api.md "Live parameters").
//
//   framering run (supervisor)                         the stage (this class)
//   socketpair(AF_UNIX, SOCK_SEQPACKET): one end ◄───► FRAMERING_CONTROL_FD=<n>
//        ◄── {"type":"hello","params":[spec...]}        at construction, which waits (5 s at most)
//        ──► {"type":"set","id":0,...}  (the changes kept for the stage, after a restart)
//        ──► {"type":"welcome"}                          so that the first frame has them
//        ──► {"type":"set","id":7,"generation":3,"values":{"high_cutoff":0.1}}
//        ◄── {"type":"applied","id":7,"generation":3,"values":{...all...}}   poll(), between frames
//            or {"type":"refused","id":7,"status":422,"field":"high_cutoff","error":"..."}
//        ◄── {"type":"took_effect","id":7,"generation":3,"sequence":1234,"ring":"filtered"}
//                                                       took_effect(), after the first frame made
//                                                       (or shown) with the change
//
// One JSON object per datagram (SEQPACKET keeps message boundaries). The stage never blocks on
// the channel: poll() reads with MSG_DONTWAIT and every send is MSG_DONTWAIT (a supervisor that
// does not read loses answers, never frames). A stage started by hand has no FRAMERING_CONTROL_FD:
// every call is then a no-op and generation() stays 0.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "framering/common/stage_command.hpp"

namespace framering::stage {

/// One parameter a stage shows (GET .../params?meta=1) and may take while it runs.
struct ParamSpec {
  enum class Type { Number, Integer, Boolean, Choice };
  std::string name;                  ///< the JSON key, snake_case ("high_cutoff")
  Type type = Type::Number;
  nlohmann::json value;              ///< the current value
  double min = 0;                    ///< Number, Integer: the allowed range, inclusive
  double max = 0;
  std::vector<std::string> choices;  ///< Choice: the allowed values
  std::string units;                 ///< "cycles/pixel", "counts", "" when none
  bool live = true;                  ///< false: shown, but a change needs the stage restarted (409)
  std::string doc;                   ///< one sentence

  /// The spec as JSON: {name, type, value, min, max | choices, units, live, doc}.
  [[nodiscard]] nlohmann::json to_json() const;
};

/// Why a change was not applied: an HTTP status (422: the value is not allowed; 409: not now)
/// and a sentence naming the parameter and what is allowed.
struct Refusal {
  int status = 422;
  std::string field;
  std::string error;
};

/// Sends one JSON object on control channel `fd` (either end), never blocking. False when it
/// could not be sent (the other end is gone, or the channel is full): a side that does not read
/// loses this message, never a frame.
bool send_control(int fd, const nlohmann::json& message);

/// The next JSON object waiting on control channel `fd` (either end), without blocking; nullopt
/// when none waits. A message that is not a JSON object is skipped (logged). Sets `closed` when
/// the other end has gone or the channel broke (then nullopt).
[[nodiscard]] std::optional<nlohmann::json> receive_control(int fd, bool& closed);

/// Checks `value` against `spec` (type, range, choices, live). nullopt when it may be applied.
[[nodiscard]] std::optional<Refusal> check_value(const ParamSpec& spec, const nlohmann::json& value,
                                                 std::string_view stage);

/// The stage's end of its control channel.
class Control {
 public:
  /// Applies a set of checked changes ({name: value}, each passed check_value) to the stage's
  /// working settings, or refuses them all (a combination not allowed: low cut-off above the
  /// high one). Runs on the stage's own thread, between frames, inside poll().
  using Apply = std::function<std::optional<Refusal>(const nlohmann::json& changes)>;

  /// Opens the channel named by kStageEnvControlFd (inactive when unset or not a socket), says
  /// hello with `params` and applies what the supervisor answers until its "welcome" (a
  /// restarted stage gets the run's live changes back before its first frame; 5 s at most, or
  /// until a stop). `stage` names the stage in refusals.
  Control(std::string stage, std::vector<ParamSpec> params, Apply apply);
  ~Control();
  Control(const Control&) = delete;
  Control& operator=(const Control&) = delete;

  /// Whether a supervisor is at the other end.
  [[nodiscard]] bool active() const noexcept { return fd_ >= 0; }

  /// Between frames: answers every request waiting on the channel (never blocks); the changes
  /// it applies reach the caller's next frame.
  void poll();

  /// After the first frame made or shown with the changes poll() applied: acknowledges each of
  /// them with that frame's `sequence` on `ring`. Cheap when nothing waits (call it per frame).
  void took_effect(std::uint64_t sequence, std::string_view ring);

  /// The generation of the newest change applied (0: none): stamp it on frames (a producer
  /// stamps max(this, its input frame's)).
  [[nodiscard]] std::uint32_t generation() const noexcept { return generation_; }

  /// The current value of `name` (null when there is no such parameter).
  [[nodiscard]] nlohmann::json value(std::string_view name) const;

  /// Sets the value reported for `name` (nothing when there is none): from inside Apply, when
  /// the stage took another value than asked (a camera rounds its exposure to its step).
  void set_value(std::string_view name, nlohmann::json value);

 private:
  void handle(const nlohmann::json& message);
  void send(const nlohmann::json& message) const;
  /// The next message (receive_control); closes the channel when the supervisor has gone.
  [[nodiscard]] std::optional<nlohmann::json> receive();
  [[nodiscard]] nlohmann::json values() const;

  std::string stage_;
  std::vector<ParamSpec> params_;
  Apply apply_;
  int fd_ = -1;
  std::uint32_t generation_ = 0;
  std::vector<std::uint64_t> awaiting_effect_;  ///< ids applied, waiting for their first frame
};

}  // namespace framering::stage
