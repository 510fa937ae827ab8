#include "framering/supervise/live_params.hpp"

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "framering/common/error.hpp"
#include "framering/common/utc_time.hpp"

namespace framering::supervise {
namespace {

std::uint64_t ns(std::chrono::seconds s) { return static_cast<std::uint64_t>(s.count()) * 1'000'000'000ULL; }

// The specs' values updated from `values` ({name: value}).
void update_values(nlohmann::json& specs, const nlohmann::json& values) {
  if (!specs.is_array() || !values.is_object()) return;
  for (auto& spec : specs) {
    const std::string name = spec.value("name", "");
    if (values.contains(name)) spec["value"] = values[name];
  }
}

}  // namespace

void LiveParams::patch(const PatchParams& request, pid_t pid, int fd, std::promise<Reply> reply, std::uint64_t now_ns) {
  const auto it = stages_.find(request.stage);
  if (fd < 0 || pid <= 0) {
    reply.set_value({409, {{"error", fmt::format("stage '{}' is not running: its parameters change only while it runs",
                                                 request.stage)},
                           {"stage", request.stage}}});
    return;
  }
  if (it == stages_.end() || it->second.hello_pid != pid) {
    reply.set_value({409, {{"error", fmt::format("stage '{}' offers no live parameters (a stage that never said hello "
                                                 "on its control channel, or one still starting: try again)",
                                                 request.stage)},
                           {"stage", request.stage}}});
    return;
  }
  Pending p{.id = next_id_++,
            .stage = request.stage,
            .pid = pid,
            .values = request.values,
            .generation = ++generation_,
            .reply = std::move(reply),
            .deadline_ns = now_ns + ns(kAnswerWait)};
  if (!stage::send_control(fd, {{"type", "set"}, {"id", p.id}, {"generation", p.generation}, {"values", p.values}})) {
    p.reply.set_value({409, {{"error", fmt::format("stage '{}': its control channel does not take the change now ({})",
                                                   request.stage, errno_text(errno))},
                             {"stage", request.stage}}});
    give_back(p);
    return;
  }
  pending_.push_back(std::move(p));
}

bool LiveParams::read(const std::string& stage, pid_t pid, int fd, std::uint64_t now_ns) {
  if (fd < 0) return true;
  StageState& state = stages_[stage];
  bool closed = false;
  while (const auto message = stage::receive_control(fd, closed)) handle(state, stage, pid, fd, *message, now_ns);
  return !closed;
}

void LiveParams::handle(StageState& state, const std::string& stage, pid_t pid, int fd, const nlohmann::json& message,
                        std::uint64_t now_ns) {
  const std::string type = message.value("type", "");
  const std::uint64_t id = message.value("id", std::uint64_t{0});
  const auto pending = std::find_if(pending_.begin(), pending_.end(),
                                    [&](const Pending& p) { return p.id == id && p.stage == stage; });
  if (type == "hello") {
    state.specs = message.value("params", nlohmann::json::array());
    state.hello_pid = pid;
    if (!state.kept.empty()) {  // a new process of the stage: it keeps the live settings
      spdlog::info("run: {} restarted: applying its live settings again (generation {}): {}", stage, state.generation,
                   state.kept.dump());
      update_values(state.specs, state.kept);
      if (!stage::send_control(fd, {{"type", "set"}, {"id", 0}, {"generation", state.generation}, {"values", state.kept}})) {
        spdlog::error("run: {}: cannot send its live settings again: it runs with its pipeline file's", stage);
      }
    }
    (void)stage::send_control(fd, {{"type", "welcome"}});  // the stage waits for this before its first frame
  } else if (type == "applied") {
    update_values(state.specs, message.value("values", nlohmann::json::object()));
    if (pending == pending_.end()) return;  // id 0: the settings sent again after a restart
    pending->applied = true;
    pending->applied_values = message.value("values", nlohmann::json::object());
    state.kept.update(pending->values);
    state.generation = std::max(state.generation, pending->generation);
    pending->deadline_ns = now_ns + ns(kEffectWait);
  } else if (type == "refused") {
    if (id == 0) {
      spdlog::error("run: {} refused its live settings after a restart: {}", stage, message.value("error", ""));
      return;
    }
    if (pending == pending_.end()) return;
    nlohmann::json body = {{"error", message.value("error", "refused")}, {"stage", stage}};
    if (!message.value("field", "").empty()) body["field"] = message["field"];
    answer(*pending, {message.value("status", 422), body});
    give_back(*pending);
    pending_.erase(pending);
  } else if (type == "took_effect") {
    if (pending == pending_.end()) return;
    const std::string ring = message.value("ring", "");
    const nlohmann::json sequence = message.value("sequence", nlohmann::json(nullptr));
    if (!pending->replied) {
      answer(*pending, {200,
                        {{"stage", stage},
                         {"generation", pending->generation},
                         {"sequence", sequence},
                         {"ring", ring},
                         {"values", pending->applied_values}}});
    }
    log_change(*pending, sequence, ring);
    pending_.erase(pending);
  }
}

void LiveParams::ended(const std::string& stage, pid_t pid) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->stage != stage || it->pid != pid) {
      ++it;
      continue;
    }
    if (it->applied) {
      answer(*it, {202,
                   {{"stage", stage},
                    {"generation", it->generation},
                    {"sequence", nullptr},
                    {"values", it->applied_values},
                    {"note", "applied, but the stage ended before a frame passed; its restart keeps the change"}}});
      log_change(*it, nullptr, "");
    } else {
      answer(*it, {409, {{"error", fmt::format("stage '{}' ended before it answered: the change was not applied", stage)},
                         {"stage", stage}}});
      give_back(*it);
    }
    it = pending_.erase(it);
  }
  const auto state = stages_.find(stage);
  if (state != stages_.end() && state->second.hello_pid == pid) state->second.hello_pid = 0;
}

void LiveParams::expire(std::uint64_t now_ns) {
  for (auto& p : pending_) {
    if (p.replied || now_ns < p.deadline_ns) continue;
    if (p.applied) {
      answer(p, {202,
                 {{"stage", p.stage},
                  {"generation", p.generation},
                  {"sequence", nullptr},
                  {"values", p.applied_values},
                  {"note", fmt::format("applied; no frame has passed the stage in {} s since, so no sequence yet "
                                       "(GET /api/v1/settings shows it once one has)",
                                       kEffectWait.count())}}});
      log_change(p, nullptr, "");
    } else {
      answer(p, {504, {{"error", fmt::format("stage '{}' did not answer within {} s; the change may still apply "
                                             "(GET its params to see)",
                                             p.stage, kAnswerWait.count())},
                       {"stage", p.stage}}});
    }
  }
}

void LiveParams::close() {
  for (auto& p : pending_) {
    if (p.applied) {
      answer(p, {202, {{"stage", p.stage}, {"generation", p.generation}, {"sequence", nullptr},
                       {"values", p.applied_values}, {"note", "applied; the run stopped before a frame passed"}}});
    } else {
      answer(p, {503, {{"error", "the run is stopping: the change was not applied"}, {"stage", p.stage}}});
    }
  }
  pending_.clear();
  deliver();
}

void LiveParams::give_back(const Pending& p) noexcept {
  if (p.generation == generation_) --generation_;  // the newest number, unused: the next change takes it
}

void LiveParams::answer(Pending& p, Reply reply) {
  if (p.replied) return;
  p.replied = true;
  answers_.emplace_back(std::move(p.reply), std::move(reply));
}

void LiveParams::deliver() {
  for (auto& [promise, reply] : answers_) promise.set_value(std::move(reply));
  answers_.clear();
}

void LiveParams::log_change(const Pending& p, const nlohmann::json& sequence, const std::string& ring) {
  for (auto& entry : log_) {  // answered 202 before its first frame: the sequence comes now
    if (entry["generation"] == p.generation) {
      entry["sequence"] = sequence;
      entry["ring"] = ring;
      return;
    }
  }
  nlohmann::json entry = {{"generation", p.generation}, {"stage", p.stage},   {"values", p.values},
                          {"sequence", sequence},       {"ring", ring},       {"utc", utc_now()}};
  spdlog::info("run: {} took settings generation {} {}{}", p.stage, p.generation, p.values.dump(),
               sequence.is_null() ? "" : fmt::format(" from frame {} of {}", sequence.dump(), ring));
  log_.push_back(entry);
  post_event_("settings_changed", entry);
}

nlohmann::json LiveParams::params_of(const std::string& stage) const {
  const auto it = stages_.find(stage);
  if (it == stages_.end() || it->second.specs.is_null()) return nullptr;
  return it->second.specs;
}

nlohmann::json LiveParams::settings() const { return {{"generation", generation_}, {"changes", log_}}; }

}  // namespace framering::supervise
