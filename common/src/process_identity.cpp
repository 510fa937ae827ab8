#include "framering/common/process_identity.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace framering {
namespace {

struct StatFields {
  char state = '?';
  std::uint64_t start_ticks = 0;
};

// Reads /proc/<pid>/stat; the command name (field 2) may hold spaces and ')', so fields are
// counted from the last ')'.
bool read_stat(pid_t pid, StatFields& out) noexcept {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buffer[1024];
  const ssize_t n = ::read(fd, buffer, sizeof buffer - 1);
  ::close(fd);
  if (n <= 0) return false;
  buffer[n] = '\0';
  char* p = std::strrchr(buffer, ')');
  if (p == nullptr || p[1] != ' ') return false;
  p += 2;  // field 3, state
  out.state = *p;
  // Skip to field 22: we are at field 3, so 19 more separators.
  for (int field = 3; field < 22; ++field) {
    p = std::strchr(p, ' ');
    if (p == nullptr) return false;
    ++p;
  }
  out.start_ticks = std::strtoull(p, nullptr, 10);
  return true;
}

}  // namespace

std::uint64_t process_start_ticks(pid_t pid) noexcept {
  StatFields fields;
  return read_stat(pid, fields) ? fields.start_ticks : 0;
}

bool is_process_alive(pid_t pid, std::uint64_t start_ticks) noexcept {
  if (pid <= 0) return false;
  StatFields fields;
  if (!read_stat(pid, fields)) return false;
  if (fields.state == 'Z' || fields.state == 'X') return false;
  return start_ticks == 0 || fields.start_ticks == start_ticks;
}

}  // namespace framering
