// stage_plan.hpp: what `framering run` will start, worked out from a pipeline before anything
// starts: each stage's command line, its environment (docs/stages.md) and the rings it uses, who
// produces and who consumes each ring, and each stage's restart delays. Pure: unit-tested
// without processes.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "framering/common/stage_command.hpp"
#include "framering/supervise/pipeline_config.hpp"

namespace framering::supervise {

/// What the run adds to every stage.
struct PlanOptions {
  std::uint64_t frames = 0;                   ///< > 0: each source stage publishes this many (FRAMERING_FRAMES)
  std::string log_level = "info";             ///< FRAMERING_LOG_LEVEL
  std::string executable = "/proc/self/exe";  ///< the framering binary built-in stages run
};

/// The ring a dead every consumer's restart must beat: ReaderOptions' default dead timeout.
inline constexpr std::chrono::milliseconds kDefaultDeadTimeout{2000};

/// One stage as the supervisor starts it.
struct StagePlan {
  std::string name;
  std::string program;             ///< what execv runs (execvp when `search_path`)
  bool search_path = false;        ///< a command stage named without a '/'
  std::vector<std::string> argv;   ///< argv[0] included
  std::vector<std::pair<std::string, std::string>> env;  ///< set on top of the supervisor's environment
  std::vector<RingUse> rings;
  std::uint32_t line = 0;          ///< its [[stage]] table in the pipeline file
  /// Cap of its restart delay, ms: the policy's backoff_max_ms, and for an every consumer at most
  /// a quarter of its shortest dead timeout, so a restart always attaches before the producer
  /// would evict it (docs/stages.md, "Restarts").
  std::uint32_t backoff_max_ms = 0;

  [[nodiscard]] bool produces_any() const noexcept;
  [[nodiscard]] bool consumes_any() const noexcept;
  [[nodiscard]] bool consumes_every() const noexcept;
  /// A source: produces, consumes nothing (acquire). `run --frames` bounds these.
  [[nodiscard]] bool is_source() const noexcept { return produces_any() && !consumes_any(); }
};

struct PipelinePlan {
  std::string source;    ///< the pipeline file, or "embedded:config/default.toml"
  std::string instance;
  RestartPolicy restart;
  std::vector<StagePlan> stages;

  /// Every ring a stage produces or consumes, sorted, once each.
  [[nodiscard]] std::vector<std::string> rings() const;
};

/// Works out the plan. Throws ConfigError ("FILE:LINE: ...") when two stages produce one ring.
[[nodiscard]] PipelinePlan make_plan(const PipelineConfig& config, const PlanOptions& options);

/// The delay before restart number `restarts_in_a_row` (1 = the first after a healthy run):
/// backoff_ms doubled per restart in a row, capped at the stage's backoff_max_ms.
[[nodiscard]] std::uint64_t restart_delay_ms(const RestartPolicy& policy, const StagePlan& stage,
                                             std::uint32_t restarts_in_a_row) noexcept;

/// The plan as `run --dry-run` prints it: per stage its environment, command line and rings.
[[nodiscard]] std::string describe(const PipelinePlan& plan);

}  // namespace framering::supervise
