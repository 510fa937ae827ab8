// error.hpp: the exceptions for start-up and configuration failures (STYLE.md section 6, kind 2).
// Frame-path outcomes are return values (std::expected), never these.
#pragma once

#include <stdexcept>
#include <string>

namespace framering {

/// Base of every exception framering throws. what() is one line a user can act on: it names
/// the input (segment, path, option) and what was expected.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A shared-memory segment could not be created, opened or trusted: bad name, missing,
/// permission denied, truncated, wrong magic, layout version or geometry, live producer.
class SegmentError : public Error {
 public:
  using Error::Error;
};

/// A command-line option or configuration value is out of range or inconsistent.
class ConfigError : public Error {
 public:
  using Error::Error;
};

/// `strerror(errnum)` as a std::string, thread-safe (strerror_r).
[[nodiscard]] std::string errno_text(int errnum);

}  // namespace framering
