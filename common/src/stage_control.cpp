#include "framering/common/stage_control.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framering/common/clock.hpp"
#include "framering/common/stop_signal.hpp"

namespace framering::stage {
namespace {

constexpr std::uint64_t kWelcomeWaitNs = 5'000'000'000;  // the supervisor answers a hello within its loop period

std::string_view type_name(ParamSpec::Type t) {
  switch (t) {
    case ParamSpec::Type::Number: return "number";
    case ParamSpec::Type::Integer: return "integer";
    case ParamSpec::Type::Boolean: return "boolean";
    case ParamSpec::Type::Choice: return "choice";
  }
  return "?";
}

std::string range_text(const ParamSpec& s) {
  return fmt::format("[{}, {}]{}{}", s.min, s.max, s.units.empty() ? "" : " ", s.units);
}

// The control fd from the environment, when it names a socket.
int control_fd_from_environment() {
  const char* text = std::getenv(kStageEnvControlFd);
  if (text == nullptr || *text == '\0') return -1;
  int fd = -1;
  const char* end = text + std::strlen(text);
  if (std::from_chars(text, end, fd).ptr != end || fd < 0) {
    spdlog::warn("{}='{}' is not a file descriptor: no live parameters", kStageEnvControlFd, text);
    return -1;
  }
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
    spdlog::warn("{}={} is not an open socket: no live parameters", kStageEnvControlFd, fd);
    return -1;
  }
  return fd;
}

}  // namespace

bool send_control(int fd, const nlohmann::json& message) {
  if (fd < 0) return false;
  const std::string text = message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return ::send(fd, text.data(), text.size(), MSG_DONTWAIT | MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
}

std::optional<nlohmann::json> receive_control(int fd, bool& closed) {
  std::array<char, 65536> buffer;  // SOCK_SEQPACKET: one whole message per recv
  for (;;) {
    const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return std::nullopt;
    if (n <= 0) {  // 0: the other end closed (its process is gone); < 0: a broken channel
      closed = true;
      return std::nullopt;
    }
    auto message = nlohmann::json::parse(buffer.data(), buffer.data() + n, nullptr, false);
    if (message.is_object()) return message;
    spdlog::warn("control channel: a message that is not a JSON object was ignored");
  }
}

nlohmann::json ParamSpec::to_json() const {
  nlohmann::json j = {{"name", name}, {"type", type_name(type)}, {"value", value}, {"units", units},
                      {"live", live},  {"applies", live ? "live" : "restart"}, {"doc", doc}};
  if (type == Type::Number || type == Type::Integer) {
    j["min"] = min;
    j["max"] = max;
  }
  if (type == Type::Choice) j["choices"] = choices;
  return j;
}

std::optional<Refusal> check_value(const ParamSpec& spec, const nlohmann::json& value, std::string_view stage) {
  const auto refuse = [&](std::string expected) {
    return Refusal{422, spec.name,
                   fmt::format("{}: parameter '{}' must be {}, not {}", stage, spec.name, expected,
                               value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))};
  };
  if (!spec.live) {
    return Refusal{409, spec.name,
                   fmt::format("{}: parameter '{}' cannot change while the stage runs (set it in the pipeline file "
                               "and restart the run)",
                               stage, spec.name)};
  }
  switch (spec.type) {
    case ParamSpec::Type::Number: {
      if (!value.is_number() || !std::isfinite(value.get<double>())) return refuse("a number in " + range_text(spec));
      const double v = value.get<double>();
      if (v < spec.min || v > spec.max) return refuse("a number in " + range_text(spec));
      return std::nullopt;
    }
    case ParamSpec::Type::Integer: {
      if (!value.is_number_integer()) return refuse("an integer in " + range_text(spec));
      const double v = value.is_number_unsigned() ? static_cast<double>(value.get<std::uint64_t>())
                                                  : static_cast<double>(value.get<std::int64_t>());
      if (v < spec.min || v > spec.max) return refuse("an integer in " + range_text(spec));
      return std::nullopt;
    }
    case ParamSpec::Type::Boolean:
      if (!value.is_boolean()) return refuse("true or false");
      return std::nullopt;
    case ParamSpec::Type::Choice:
      if (!value.is_string() || std::find(spec.choices.begin(), spec.choices.end(), value.get<std::string>()) ==
                                    spec.choices.end()) {
        return refuse(fmt::format("one of {}", fmt::join(spec.choices, ", ")));
      }
      return std::nullopt;
  }
  return refuse("valid");
}

Control::Control(std::string stage, std::vector<ParamSpec> params, Apply apply)
    : stage_(std::move(stage)), params_(std::move(params)), apply_(std::move(apply)), fd_(control_fd_from_environment()) {
  if (fd_ < 0) return;
  nlohmann::json specs = nlohmann::json::array();
  for (const auto& p : params_) specs.push_back(p.to_json());
  send({{"type", "hello"}, {"stage", stage_}, {"params", specs}});
  // The supervisor answers with the changes it kept for this stage (a restart keeps the live
  // settings), then "welcome": wait for it, so that the first frame is made with them.
  const std::uint64_t deadline = monotonic_ns() + kWelcomeWaitNs;
  while (fd_ >= 0 && !stop_requested()) {
    const std::uint64_t now = monotonic_ns();
    if (now >= deadline) {
      spdlog::warn("no answer from the supervisor on the control channel within {} s: starting with the pipeline "
                   "file's settings",
                   kWelcomeWaitNs / 1'000'000'000);
      return;
    }
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::min<std::uint64_t>((deadline - now) / 1'000'000 + 1, 100))) <= 0) continue;
    while (const auto message = receive()) {
      if (message->value("type", "") == "welcome") return;
      handle(*message);
    }
  }
}

Control::~Control() {
  if (fd_ >= 0) ::close(fd_);
}

void Control::poll() {
  if (fd_ < 0) return;
  while (const auto message = receive()) handle(*message);
}

std::optional<nlohmann::json> Control::receive() {
  bool closed = false;
  auto message = receive_control(fd_, closed);
  if (closed) {
    spdlog::debug("control channel closed: the supervisor has gone, no more live changes");
    ::close(fd_);
    fd_ = -1;
  }
  return message;
}

void Control::handle(const nlohmann::json& message) {
  if (message.value("type", "") != "set") return;
  const std::uint64_t id = message.value("id", std::uint64_t{0});
  const auto refuse = [&](const Refusal& r) {
    send({{"type", "refused"}, {"id", id}, {"status", r.status}, {"field", r.field}, {"error", r.error}});
  };
  const nlohmann::json changes = message.value("values", nlohmann::json::object());
  if (!changes.is_object() || changes.empty()) {
    refuse({422, "", fmt::format("{}: no parameters to change (send a JSON object of name: value)", stage_)});
    return;
  }
  for (const auto& [name, value] : changes.items()) {
    const auto spec = std::find_if(params_.begin(), params_.end(), [&](const ParamSpec& p) { return p.name == name; });
    if (spec == params_.end()) {
      std::vector<std::string> names;
      for (const auto& p : params_) names.push_back(p.name);
      refuse({422, name, fmt::format("{}: no parameter '{}' (it has: {})", stage_, name, fmt::join(names, ", "))});
      return;
    }
    if (auto refusal = check_value(*spec, value, stage_)) {
      refuse(*refusal);
      return;
    }
  }
  // The asked values first, so that Apply may replace them with what the stage took (set_value).
  const nlohmann::json before = values();
  for (const auto& [name, value] : changes.items()) set_value(name, value);
  if (auto refusal = apply_(changes)) {
    for (const auto& [name, value] : before.items()) set_value(name, value);
    refuse(*refusal);
    return;
  }
  generation_ = std::max(generation_, message.value("generation", std::uint32_t{0}));
  spdlog::info("live change {} applied (settings generation {}): {}", id, generation_, changes.dump());
  send({{"type", "applied"}, {"id", id}, {"generation", generation_}, {"values", values()}});
  awaiting_effect_.push_back(id);
}

void Control::took_effect(std::uint64_t sequence, std::string_view ring) {
  if (awaiting_effect_.empty()) return;
  for (const std::uint64_t id : awaiting_effect_) {
    send({{"type", "took_effect"}, {"id", id}, {"generation", generation_}, {"sequence", sequence}, {"ring", ring}});
  }
  awaiting_effect_.clear();
}

nlohmann::json Control::value(std::string_view name) const {
  for (const auto& p : params_) {
    if (p.name == name) return p.value;
  }
  return nullptr;
}

void Control::set_value(std::string_view name, nlohmann::json value) {
  for (auto& p : params_) {
    if (p.name == name) p.value = std::move(value);
  }
}

nlohmann::json Control::values() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& p : params_) out[p.name] = p.value;
  return out;
}

void Control::send(const nlohmann::json& message) const {
  // A supervisor that stopped reading loses this answer (its request times out there).
  if (fd_ >= 0 && !send_control(fd_, message)) spdlog::debug("control channel: cannot send: {}", std::strerror(errno));
}

}  // namespace framering::stage
