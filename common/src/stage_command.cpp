#include "framering/common/stage_command.hpp"

#include <unistd.h>

#include <cstdlib>

namespace framering {

std::string_view to_string(RingRole role) noexcept {
  switch (role) {
    case RingRole::Produces: return "produces";
    case RingRole::ConsumesNewest: return "newest";
    case RingRole::ConsumesEvery: return "every";
  }
  return "unknown";
}

bool supervisor_died() noexcept {
  const char* text = std::getenv(kStageEnvSupervisorPid);
  if (text == nullptr || *text == '\0') return false;
  char* end = nullptr;
  const long pid = std::strtol(text, &end, 10);
  return *end == '\0' && pid > 0 && ::getppid() != static_cast<pid_t>(pid);
}

}  // namespace framering
