#include "framering/common/error.hpp"

#include <cstring>

namespace framering {

std::string errno_text(int errnum) {
  char buffer[256];
  // GNU strerror_r returns the message pointer (which may or may not be `buffer`).
  const char* text = ::strerror_r(errnum, buffer, sizeof buffer);
  return text;
}

}  // namespace framering
