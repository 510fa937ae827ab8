#include "framering/common/stage_command.hpp"

namespace framering {

std::string_view to_string(RingRole role) noexcept {
  switch (role) {
    case RingRole::Produces: return "produces";
    case RingRole::ConsumesNewest: return "newest";
    case RingRole::ConsumesEvery: return "every";
  }
  return "unknown";
}

}  // namespace framering
