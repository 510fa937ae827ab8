// stage_command.hpp: what a stage subcommand tells the supervisor about itself, and the
// environment the supervisor hands every stage (built in or any program): docs/stages.md.
//
// The supervisor links no stage. `app/` hands it a factory that adds the stage subcommands to a
// CLI11 parser; parsing a [[stage]] table's options fills a StageCommand whose `rings` says which
// rings the stage would produce and consume with those options. A `command = [...]` stage says
// the same in its TOML table. Everything else the supervisor needs to tell a stage (instance,
// consumer name, frames to publish, consumers to wait for) travels in the kStageEnv* variables.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
}

namespace framering {

/// How a stage uses a ring.
enum class RingRole {
  Produces,        ///< the one producer (RingWriter)
  ConsumesNewest,  ///< a newest consumer: never slows the producer, may skip frames
  ConsumesEvery,   ///< an every consumer: gates the producer, must take every frame
};

/// "produces", "newest", "every".
[[nodiscard]] std::string_view to_string(RingRole role) noexcept;

/// One ring a stage uses.
struct RingUse {
  std::string ring;
  RingRole role = RingRole::Produces;
  /// ConsumesEvery: how long the ring keeps a dead consumer's place (its --dead-timeout-s): a
  /// restart must attach within it or the producer evicts the consumer and its frames are lost.
  /// 0 = the ring's default (ReaderOptions::dead_timeout, 2 s).
  std::chrono::milliseconds dead_timeout{0};
  friend bool operator==(const RingUse&, const RingUse&) = default;
};

/// A stage subcommand as the supervisor and the executable see it. The subcommand's parse
/// callback sets both members.
struct StageCommand {
  std::function<int()> action;                  ///< runs the stage; returns its exit code
  std::function<std::vector<RingUse>()> rings;  ///< the rings it uses with the parsed options
};

/// Adds stage subcommands to a parser: the executable's list, handed to the supervisor.
using StageParserFactory = std::function<void(CLI::App&, StageCommand&)>;

// The environment every supervised stage gets (docs/stages.md). Built-in stages read them as
// the defaults of their options (CLI11 envname), so a flag on the command line still wins.
inline constexpr const char* kStageEnvInstance = "FRAMERING_INSTANCE";    ///< the instance: rings are <instance>.<ring>
inline constexpr const char* kStageEnvName = "FRAMERING_STAGE";           ///< the stage's name = its consumer name
inline constexpr const char* kStageEnvLogLevel = "FRAMERING_LOG_LEVEL";   ///< trace ... off
inline constexpr const char* kStageEnvProduces = "FRAMERING_PRODUCES";    ///< "raw" or "a,b": rings it produces
inline constexpr const char* kStageEnvConsumes = "FRAMERING_CONSUMES";    ///< "raw:every,processed:newest"
inline constexpr const char* kStageEnvFrames = "FRAMERING_FRAMES";        ///< producers: publish this many, then end
inline constexpr const char* kStageEnvWaitForConsumers = "FRAMERING_WAIT_FOR_CONSUMERS";  ///< producers: attach count
inline constexpr const char* kStageEnvSupervisorPid = "FRAMERING_SUPERVISOR_PID";
/// The stage's end of its control channel, a file descriptor (stage_control.hpp): live parameters.
inline constexpr const char* kStageEnvControlFd = "FRAMERING_CONTROL_FD";

/// Whether this process was started by a `framering run` that has died since (its parent is no
/// longer kStageEnvSupervisorPid). Its stop then came from PR_SET_PDEATHSIG, to every stage at
/// once rather than producers first: an every consumer's producer may still publish its last
/// frame after the consumer's stop. False outside `framering run`.
[[nodiscard]] bool supervisor_died() noexcept;

}  // namespace framering
