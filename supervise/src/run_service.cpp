#include "framering/supervise/run_service.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <utility>

#include "framering/common/error.hpp"

namespace framering::supervise {
namespace {

void wake(int fd) {
  const std::uint64_t one = 1;
  (void)!::write(fd, &one, sizeof one);  // EAGAIN only when the counter is full: awake anyway
}

}  // namespace

RunService::RunService() : wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (wake_fd_ < 0) throw Error("run: cannot make an eventfd for the supervision loop: " + errno_text(errno));
}

RunService::~RunService() { ::close(wake_fd_); }

void RunService::publish(std::vector<StageView> stages, std::vector<RecordingView> recordings, bool stopping,
                         nlohmann::json settings) {
  const std::lock_guard lock(mutex_);
  stages_ = std::move(stages);
  recordings_ = std::move(recordings);
  stopping_ = stopping;
  settings_ = std::move(settings);
}

RunService::Snapshot RunService::snapshot() const {
  const std::lock_guard lock(mutex_);
  return {stages_, recordings_, stopping_ || closed_, settings_};
}

Reply RunService::submit(std::variant<StartRecording, StopRecording, PatchParams> what,
                         std::chrono::milliseconds timeout) {
  std::future<Reply> reply;
  {
    const std::lock_guard lock(mutex_);
    if (closed_ || stopping_) return {503, {{"error", "the run is stopping: it takes no new commands"}}};
    Command command{std::move(what), {}};
    reply = command.reply.get_future();
    commands_.push_back(std::move(command));
  }
  wake(wake_fd_);
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

void RunService::wait_for_commands(std::chrono::nanoseconds timeout, std::span<const int> fds) {
  {
    const std::lock_guard lock(mutex_);
    if (!commands_.empty() || closed_) return;
  }
  std::vector<pollfd> watched{{wake_fd_, POLLIN, 0}};
  for (const int fd : fds) {
    if (fd >= 0) watched.push_back({fd, POLLIN, 0});
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
  if (::poll(watched.data(), watched.size(), static_cast<int>(std::max<std::int64_t>(ms, 1))) > 0 &&
      (watched[0].revents & POLLIN) != 0) {
    std::uint64_t count = 0;
    (void)!::read(wake_fd_, &count, sizeof count);  // reset; the queue says what came
  }
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
  wake(wake_fd_);
  events_cv_.notify_all();
}

bool RunService::closed() const {
  const std::lock_guard lock(mutex_);
  return closed_;
}

}  // namespace framering::supervise
