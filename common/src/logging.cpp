#include "framering/common/logging.hpp"

#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "framering/common/error.hpp"

namespace framering {

void setup_logging(std::string_view stage, std::string_view level, bool thread_safe) {
  const auto parsed = spdlog::level::from_str(std::string{level});
  if (parsed == spdlog::level::off && level != "off") {
    throw ConfigError(fmt::format("--log-level '{}' is not a level: expected one of {}", level, log_level_names()));
  }
  const std::string name = fmt::format("framering-{}[{}]", stage, ::getpid());
  spdlog::drop(name);  // a second call (tests run several stages in one process) replaces the first logger
  auto logger = thread_safe ? spdlog::stderr_color_mt(name) : spdlog::stderr_color_st(name);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %n: %v");
  logger->set_level(parsed);
  spdlog::set_default_logger(std::move(logger));
}

const char* log_level_names() noexcept { return "trace, debug, info, warn, error, critical, off"; }

}  // namespace framering
