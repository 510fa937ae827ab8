#include "framering/supervise/run_service.hpp"

#include <algorithm>
#include <utility>

namespace framering::supervise {

void RunService::publish(std::vector<StageView> stages, std::vector<RecordingView> recordings, bool stopping) {
  const std::lock_guard lock(mutex_);
  stages_ = std::move(stages);
  recordings_ = std::move(recordings);
  stopping_ = stopping;
}

RunService::Snapshot RunService::snapshot() const {
  const std::lock_guard lock(mutex_);
  return {stages_, recordings_, stopping_ || closed_};
}

Reply RunService::submit(std::variant<StartRecording, StopRecording> what, std::chrono::milliseconds timeout) {
  std::future<Reply> reply;
  {
    const std::lock_guard lock(mutex_);
    if (closed_ || stopping_) return {503, {{"error", "the run is stopping: it takes no new commands"}}};
    Command command{std::move(what), {}};
    reply = command.reply.get_future();
    commands_.push_back(std::move(command));
  }
  commands_cv_.notify_all();
  if (reply.wait_for(timeout) != std::future_status::ready) {
    // The command stays queued; the supervisor still answers it (into a future nobody reads).
    return {503, {{"error", "the supervisor did not answer in time; try again"}}};
  }
  return reply.get();
}

std::vector<Command> RunService::take_commands() {
  const std::lock_guard lock(mutex_);
  std::vector<Command> out;
  while (!commands_.empty()) {
    out.push_back(std::move(commands_.front()));
    commands_.pop_front();
  }
  return out;
}

void RunService::wait_for_commands(std::chrono::nanoseconds timeout) {
  std::unique_lock lock(mutex_);
  commands_cv_.wait_for(lock, timeout, [&] { return !commands_.empty() || closed_; });
}

void RunService::post_event(std::string type, nlohmann::json data) {
  {
    const std::lock_guard lock(mutex_);
    events_.push_back({next_event_id_++, std::move(type), std::move(data)});
    while (events_.size() > kEventsKept) events_.pop_front();
  }
  events_cv_.notify_all();
}

std::vector<Event> RunService::wait_events(std::uint64_t after, std::chrono::milliseconds timeout, bool* dropped) const {
  std::unique_lock lock(mutex_);
  events_cv_.wait_for(lock, timeout, [&] { return closed_ || next_event_id_ - 1 > after; });
  std::vector<Event> out;
  if (dropped != nullptr) *dropped = !events_.empty() && events_.front().id > after + 1;
  for (const auto& e : events_) {
    if (e.id > after) out.push_back(e);
  }
  return out;
}

std::uint64_t RunService::last_event_id() const {
  const std::lock_guard lock(mutex_);
  return next_event_id_ - 1;
}

void RunService::close() {
  std::deque<Command> left;
  {
    const std::lock_guard lock(mutex_);
    closed_ = true;
    left.swap(commands_);
  }
  for (auto& command : left) command.reply.set_value({503, {{"error", "the run is stopping: it takes no new commands"}}});
  commands_cv_.notify_all();
  events_cv_.notify_all();
}

bool RunService::closed() const {
  const std::lock_guard lock(mutex_);
  return closed_;
}

}  // namespace framering::supervise
