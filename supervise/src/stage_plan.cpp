#include "framering/supervise/stage_plan.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "framering/common/error.hpp"
#include "framering/common/ring_layout.hpp"

namespace framering::supervise {

bool StagePlan::produces_any() const noexcept {
  return std::any_of(rings.begin(), rings.end(), [](const RingUse& r) { return r.role == RingRole::Produces; });
}

bool StagePlan::consumes_any() const noexcept {
  return std::any_of(rings.begin(), rings.end(), [](const RingUse& r) { return r.role != RingRole::Produces; });
}

bool StagePlan::consumes_every() const noexcept {
  return std::any_of(rings.begin(), rings.end(), [](const RingUse& r) { return r.role == RingRole::ConsumesEvery; });
}

std::vector<std::string> PipelinePlan::rings() const {
  std::set<std::string> names;
  for (const auto& stage : stages) {
    for (const auto& use : stage.rings) names.insert(use.ring);
  }
  return {names.begin(), names.end()};
}

PipelinePlan make_plan(const PipelineConfig& config, const PlanOptions& options) {
  PipelinePlan plan{.source = config.source, .instance = config.instance, .restart = config.restart, .stages = {}};
  std::map<std::string, const StageConfig*> producer_of;
  std::map<std::string, std::uint32_t> consumers_of;
  for (const auto& stage : config.stages) {
    for (const auto& use : stage.rings) {
      if (use.role != RingRole::Produces) {
        ++consumers_of[use.ring];
        continue;
      }
      const auto [it, inserted] = producer_of.emplace(use.ring, &stage);
      if (!inserted && it->second != &stage) {
        throw ConfigError(fmt::format("{}:{}: [[stage]] '{}' produces ring '{}', which [[stage]] '{}' (line {}) "
                                      "produces already: a ring has one producer",
                                      config.source, stage.line, stage.name, use.ring, it->second->name,
                                      it->second->line));
      }
    }
  }
  for (const auto& stage : config.stages) {
    const bool is_consumer = std::any_of(stage.rings.begin(), stage.rings.end(),
                                         [](const RingUse& use) { return use.role != RingRole::Produces; });
    if (is_consumer && stage.name.size() >= ring::kConsumerNameBytes) {
      throw ConfigError(fmt::format("{}:{}: [[stage]] '{}': the name of a stage that consumes a ring is its consumer "
                                    "name there, at most {} characters",
                                    config.source, stage.line, stage.name, ring::kConsumerNameBytes - 1));
    }
    StagePlan p;
    p.name = stage.name;
    p.line = stage.line;
    p.rings = stage.rings;
    if (stage.is_command()) {
      p.program = stage.command.front();
      p.search_path = p.program.find('/') == std::string::npos;
      p.argv = stage.command;
    } else {
      p.program = options.executable;
      p.argv = {"framering"};
      const std::vector<std::string> words = run_words(stage.run);
      p.argv.insert(p.argv.end(), words.begin(), words.end());
      p.argv.insert(p.argv.end(), stage.args.begin(), stage.args.end());
    }
    std::vector<std::string> produces;
    std::vector<std::string> consumes;
    std::uint32_t wait_for = 0;
    std::chrono::milliseconds shortest_dead{0};
    for (const auto& use : p.rings) {
      if (use.role == RingRole::Produces) {
        produces.push_back(use.ring);
        wait_for += consumers_of[use.ring];
        continue;
      }
      consumes.push_back(fmt::format("{}:{}", use.ring, to_string(use.role)));
      if (use.role == RingRole::ConsumesEvery) {
        const auto dead = use.dead_timeout.count() > 0 ? use.dead_timeout : kDefaultDeadTimeout;
        if (shortest_dead.count() == 0 || dead < shortest_dead) shortest_dead = dead;
      }
    }
    p.env = {{kStageEnvInstance, config.instance}, {kStageEnvName, stage.name}, {kStageEnvLogLevel, options.log_level},
             {kStageEnvProduces, fmt::format("{}", fmt::join(produces, ","))},
             {kStageEnvConsumes, fmt::format("{}", fmt::join(consumes, ","))}};
    if (wait_for > 0) p.env.emplace_back(kStageEnvWaitForConsumers, std::to_string(wait_for));
    p.backoff_max_ms = config.restart.backoff_max_ms;
    if (shortest_dead.count() > 0) {
      p.backoff_max_ms = std::min<std::uint32_t>(p.backoff_max_ms,
                                                 static_cast<std::uint32_t>(std::max<std::int64_t>(1, shortest_dead.count() / 4)));
    }
    plan.stages.push_back(std::move(p));
  }
  if (options.frames > 0) {
    for (auto& p : plan.stages) {
      if (p.is_source()) p.env.emplace_back(kStageEnvFrames, std::to_string(options.frames));
    }
  }
  return plan;
}

std::uint64_t restart_delay_ms(const RestartPolicy& policy, const StagePlan& stage,
                               std::uint32_t restarts_in_a_row) noexcept {
  std::uint64_t delay = policy.backoff_ms;
  for (std::uint32_t i = 1; i < restarts_in_a_row && delay < stage.backoff_max_ms; ++i) delay *= 2;
  return std::min<std::uint64_t>(delay, stage.backoff_max_ms);
}

std::string describe(const PipelinePlan& plan) {
  std::string text = fmt::format("pipeline {} (instance {}), {} stages:\n", plan.source, plan.instance, plan.stages.size());
  for (const auto& s : plan.stages) {
    std::vector<std::string> uses;
    for (const auto& use : s.rings) uses.push_back(fmt::format("{} {}", to_string(use.role), use.ring));
    std::vector<std::string> env;
    for (const auto& [key, value] : s.env) {
      if (!value.empty()) env.push_back(fmt::format("{}={}", key, value));
    }
    text += fmt::format("  {}: {}\n", s.name, fmt::join(s.argv, " "));
    text += fmt::format("    rings: {}; restart delay at most {} ms\n", uses.empty() ? "none" : fmt::format("{}", fmt::join(uses, ", ")),
                        s.backoff_max_ms);
    text += fmt::format("    env: {}\n", fmt::join(env, " "));
  }
  return text;
}

}  // namespace framering::supervise
