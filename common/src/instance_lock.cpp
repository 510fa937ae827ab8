#include "framering/common/instance_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include <fmt/format.h>

#include "framering/common/error.hpp"
#include "framering/common/segment.hpp"

namespace framering::ring {

std::string instance_lock_path(std::string_view instance) {
  Segment::validate_name("instance", instance);
  // "framering-run." does not start with "framering.", so Segment::list_rings never sees it.
  return fmt::format("/dev/shm/framering-run.{}.lock", instance);
}

std::expected<InstanceLock, pid_t> InstanceLock::try_acquire(std::string_view instance) {
  std::string path = instance_lock_path(instance);
  for (;;) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      throw SegmentError(fmt::format("cannot open the instance lock {}: {}", path, errno_text(errno)));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      char text[32] = {};
      const ssize_t n = ::pread(fd, text, sizeof text - 1, 0);
      ::close(fd);
      return std::unexpected(static_cast<pid_t>(n > 0 ? std::atoi(text) : 0));
    }
    // The holder we raced with may have unlinked the file after our open: then we locked an
    // orphan inode, and the path (if any) is someone else's. Retry on the path's inode.
    struct stat by_fd{};
    struct stat by_path{};
    if (::fstat(fd, &by_fd) != 0 || ::stat(path.c_str(), &by_path) != 0 || by_fd.st_ino != by_path.st_ino ||
        by_fd.st_dev != by_path.st_dev) {
      ::close(fd);
      continue;
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
      // The pid is only for messages: the lock is held either way.
    }
    return InstanceLock(fd, std::move(path));
  }
}

InstanceLock::InstanceLock(InstanceLock&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) {
  other.fd_ = -1;
}

InstanceLock::~InstanceLock() {
  if (fd_ < 0) return;
  ::unlink(path_.c_str());  // while still holding it: a waiter re-checks the inode (above)
  ::close(fd_);
}

}  // namespace framering::ring
