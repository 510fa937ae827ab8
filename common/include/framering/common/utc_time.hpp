// utc_time.hpp: wall-clock time as text, for manifests, logs of changes and API answers.
#pragma once

#include <ctime>
#include <string>

namespace framering {

/// The current UTC time formatted with strftime's `format` (at most 63 characters of output);
/// the default is ISO 8601 to the second, "2026-11-30T01:57:30Z".
[[nodiscard]] inline std::string utc_now(const char* format = "%Y-%m-%dT%H:%M:%SZ") {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char text[64];
  return std::string(text, std::strftime(text, sizeof text, format, &tm));
}

}  // namespace framering
