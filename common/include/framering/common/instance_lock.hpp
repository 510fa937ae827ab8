// instance_lock.hpp: one supervisor per instance. `framering run` holds an exclusive flock(2) on
// /dev/shm/framering-run.<instance>.lock for its whole life; the kernel drops it when the holder
// dies however it dies, so a crashed supervisor never blocks the next one, and two never run one
// instance at once.
#pragma once

#include <sys/types.h>

#include <expected>
#include <string>
#include <string_view>

namespace framering::ring {

/// The lock file's path for `instance` (validated like a segment name; throws SegmentError).
[[nodiscard]] std::string instance_lock_path(std::string_view instance);

/// A held instance lock. Move-only; the destructor unlinks the file and releases the lock.
class InstanceLock {
 public:
  /// Takes the lock without waiting. On success the file holds this process's pid (for the
  /// message another supervisor prints). Returns the holder's pid (0 if unknown) when another
  /// process holds it. Throws SegmentError (path and errno text) when the file cannot be made.
  /// Safe against a holder that unlinks the file between our open and our flock: the lock is
  /// taken only on the inode the path names afterwards.
  [[nodiscard]] static std::expected<InstanceLock, pid_t> try_acquire(std::string_view instance);

  InstanceLock(InstanceLock&& other) noexcept;
  InstanceLock& operator=(InstanceLock&&) = delete;
  InstanceLock(const InstanceLock&) = delete;
  InstanceLock& operator=(const InstanceLock&) = delete;
  ~InstanceLock();

  [[nodiscard]] const std::string& path() const noexcept { return path_; }

 private:
  InstanceLock(int fd, std::string path) noexcept : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
};

}  // namespace framering::ring
