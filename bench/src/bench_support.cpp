#include "bench_support.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "framering/common/clock.hpp"
#include "framering/common/error.hpp"
#include "framering/common/stop_signal.hpp"

namespace framering::bench {

void write_result(const std::string& path, const nlohmann::json& result) {
  std::ofstream out(path);
  out << result.dump() << '\n';
  if (!out) throw Error(fmt::format("bench: cannot write result file {}", path));
}

nlohmann::json read_result(const std::string& path, const std::string& role) {
  std::ifstream in(path);
  nlohmann::json j;
  if (!(in >> j)) throw Error(fmt::format("bench: the {} process left no result in {}", role, path));
  return j;
}

void stamp(std::byte* frame, std::size_t frame_bytes, std::uint64_t sequence) noexcept {
  std::memcpy(frame, &sequence, sizeof sequence);
  std::memcpy(frame + frame_bytes - sizeof sequence, &sequence, sizeof sequence);
}

nlohmann::json produce_copies(ring::RingWriter& writer, const std::vector<const std::byte*>& sources, double seconds,
                              bool stamp_sequence) {
  const std::size_t frame_bytes = writer.segment().header().frame_bytes;
  std::uint64_t frames = 0;
  std::uint64_t timeouts = 0;
  const std::uint64_t start = monotonic_ns();
  const auto budget = static_cast<std::uint64_t>(seconds * 1e9);
  while (monotonic_ns() - start < budget && !stop_requested()) {
    auto slot = writer.claim(std::chrono::seconds{5});
    if (!slot) {
      ++timeouts;
      continue;
    }
    std::memcpy(slot->pixels.data(), sources[frames % sources.size()], frame_bytes);
    if (stamp_sequence) stamp(slot->pixels.data(), frame_bytes, slot->sequence);
    writer.publish({.timestamp_ns = 0, .camera_frame_id = slot->sequence});
    ++frames;
  }
  const double elapsed_s = static_cast<double>(monotonic_ns() - start) / 1e9;
  const double blocked_s = static_cast<double>(writer.blocked_ns()) / 1e9;
  return {{"frames", frames}, {"seconds", elapsed_s}, {"frames_per_s", static_cast<double>(frames) / elapsed_s},
          {"claim_timeouts", timeouts}, {"blocked_s", blocked_s}};
}

ring::RingGeometry mono16_geometry(std::uint32_t width, std::uint32_t height, std::uint32_t slots) {
  return ring::RingGeometry{.frame = {.width = width, .height = height, .pixel_format = PixelFormat::Mono16},
                            .slot_count = slots,
                            .max_consumers = 4};
}

AlignedBuffer aligned_buffer(std::size_t bytes) {
  const std::size_t rounded = (bytes + ring::kPageBytes - 1) / ring::kPageBytes * ring::kPageBytes;
  auto* p = static_cast<std::byte*>(std::aligned_alloc(ring::kPageBytes, rounded));
  if (p == nullptr) throw Error(fmt::format("bench: cannot allocate {} B", rounded));
  std::memset(p, 0, rounded);  // touch every page now, not inside the timed loop
  return AlignedBuffer(p);
}

pid_t spawn_self(std::vector<std::string> args, const std::string& what, const std::string& stdout_path) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  if (!stdout_path.empty()) {
    ::posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  }
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv.data(), environ);
  ::posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw Error(fmt::format("bench: cannot start the {} process: {}", what, errno_text(rc)));
  return pid;
}

int wait_child(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace framering::bench
