// led_mmap_sink.cpp: skyscreen's frame file plus a seqlock sidecar.
#include "framering/led/led_mmap_sink.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framering/common/clock.hpp"
#include "framering/common/error.hpp"

namespace framering::led {
namespace {

// Opens or creates `path` with exactly `bytes` bytes and maps it shared, read-write.
void* map_file(const std::filesystem::path& path, std::uint64_t bytes) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int e = errno;
    throw ConfigError(fmt::format("--mmap {}: cannot create or open the LED frame file: {}", path.string(),
                                  errno_text(e)));
  }
  if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    const int e = errno;
    ::close(fd);
    throw ConfigError(fmt::format("--mmap {}: cannot size it to {} bytes: {}", path.string(), bytes, errno_text(e)));
  }
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int e = errno;
  ::close(fd);
  if (p == MAP_FAILED) {
    throw ConfigError(fmt::format("--mmap {}: cannot map it: {}", path.string(), errno_text(e)));
  }
  return p;
}

}  // namespace

std::filesystem::path LedMmapSink::sidecar_path(const std::filesystem::path& path) {
  std::filesystem::path p = path;
  p += ".seq";
  return p;
}

LedMmapSink::LedMmapSink(std::filesystem::path path, std::uint32_t vanes, std::uint32_t leds_per_vane)
    : path_(std::move(path)), frame_bytes_(std::uint64_t{vanes} * leds_per_vane * 3) {
  if (frame_bytes_ == 0) throw ConfigError(fmt::format("--mmap {}: the LED geometry is empty", path_.string()));
  frame_ = static_cast<std::uint8_t*>(map_file(path_, frame_bytes_));
  try {
    sidecar_ = static_cast<LedSidecar*>(map_file(sidecar_path(path_), sizeof(LedSidecar)));
  } catch (...) {
    ::munmap(frame_, frame_bytes_);
    throw;
  }
  // Start a new series: a reader that sees an even seqlock sees a whole (black) frame.
  std::atomic_ref<std::uint64_t> seq(sidecar_->seqlock);
  seq.store(seq.load(std::memory_order_relaxed) | 1U, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  std::memset(frame_, 0, frame_bytes_);
  std::memcpy(sidecar_->magic, kMagic, sizeof kMagic);
  sidecar_->vanes = vanes;
  sidecar_->leds_per_vane = leds_per_vane;
  sidecar_->sequence = 0;
  sidecar_->written_realtime_ns = 0;
  std::memset(sidecar_->reserved, 0, sizeof sidecar_->reserved);
  seq.store(seq.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

LedMmapSink::~LedMmapSink() {
  if (frame_ != nullptr) ::munmap(frame_, frame_bytes_);
  if (sidecar_ != nullptr) ::munmap(sidecar_, sizeof(LedSidecar));
}

LedMmapSink::LedMmapSink(LedMmapSink&& other) noexcept
    : path_(std::move(other.path_)), frame_bytes_(other.frame_bytes_),
      frame_(std::exchange(other.frame_, nullptr)), sidecar_(std::exchange(other.sidecar_, nullptr)) {}

void LedMmapSink::write(std::span<const std::uint8_t> rgb, std::uint64_t sequence) noexcept {
  if (rgb.size() != frame_bytes_) {
    spdlog::critical("LED mmap sink: frame of {} bytes, expected {}", rgb.size(), frame_bytes_);
    std::abort();
  }
  std::atomic_ref<std::uint64_t> seq(sidecar_->seqlock);
  const std::uint64_t s = seq.load(std::memory_order_relaxed);
  // Odd: writing. Release fence: a reader that sees any byte of the new frame sees the odd value
  // (pairs with the acquire fence in the reader before it loads the seqlock again).
  seq.store(s + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  std::memcpy(frame_, rgb.data(), frame_bytes_);
  sidecar_->sequence = sequence;
  sidecar_->written_realtime_ns = realtime_ns();
  // Even: whole. Release: pairs with the reader's acquire load of the seqlock.
  seq.store(s + 2, std::memory_order_release);
}

}  // namespace framering::led
