#include "framering/supervise/recording_request.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "framering/common/error.hpp"
#include "framering/common/segment.hpp"

namespace framering::supervise {
namespace {

const std::set<std::string, std::less<>> kFields = {"name",  "ring", "frames",          "seconds", "on_drop",
                                                   "force", "root", "stall_timeout_s"};

Reply unprocessable(const std::string& field, const std::string& message) {
  return {422, {{"error", fmt::format("field '{}': {}", field, message)}, {"field", field}}};
}

}  // namespace

std::string recording_name_problem(std::string_view name) {
  if (name.empty()) return "must not be empty";
  if (name.size() > 100) return "must be at most 100 characters";
  if (name.front() == '.') return "must not start with '.' (no \"..\", no hidden folders)";
  const bool plain = std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
  if (!plain) {
    return "must be a plain folder name: letters, digits, '.', '_' and '-' only (no '/', no absolute path: it names "
           "a folder inside the recording root)";
  }
  return "";
}

std::expected<StartRecording, Reply> parse_recording_request(std::string_view body,
                                                             const std::vector<std::string>& roots) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    return std::unexpected(Reply{400, {{"error", fmt::format("the body is not valid JSON: {}", e.what())}}});
  }
  if (!j.is_object()) {
    return std::unexpected(Reply{400, {{"error", fmt::format("the body must be a JSON object, not {}", j.type_name())}}});
  }
  for (const auto& [key, value] : j.items()) {
    if (!kFields.contains(key)) {
      return std::unexpected(unprocessable(key, "unknown field (expected name, ring, frames, seconds, on_drop, force, "
                                                "root, stall_timeout_s)"));
    }
  }
  StartRecording r;
  for (const char* field : {"name", "ring"}) {
    if (!j.contains(field)) return std::unexpected(unprocessable(field, "missing (a string)"));
    if (!j[field].is_string()) return std::unexpected(unprocessable(field, fmt::format("must be a string, not {}", j[field].type_name())));
  }
  r.name = j["name"].get<std::string>();
  if (const std::string problem = recording_name_problem(r.name); !problem.empty()) {
    return std::unexpected(unprocessable("name", problem));
  }
  r.ring = j["ring"].get<std::string>();
  try {
    ring::Segment::validate_name("ring", r.ring);
  } catch (const Error& e) {
    return std::unexpected(unprocessable("ring", e.what()));
  }
  if (j.contains("frames") && j.contains("seconds")) {
    return std::unexpected(unprocessable("seconds", "give frames or seconds, not both"));
  }
  if (j.contains("frames")) {
    const auto& f = j["frames"];
    if (!f.is_number_unsigned() || f.get<std::uint64_t>() == 0) {
      return std::unexpected(unprocessable("frames", "must be a positive integer"));
    }
    r.frames = f.get<std::uint64_t>();
  }
  if (j.contains("seconds")) {
    const auto& s = j["seconds"];
    if (!s.is_number() || !(s.get<double>() > 0) || s.get<double>() > 7 * 86400.0) {
      return std::unexpected(unprocessable("seconds", "must be a number of seconds in (0, 604800]"));
    }
    r.seconds = s.get<double>();
  }
  if (j.contains("on_drop")) {
    const auto& d = j["on_drop"];
    if (!d.is_string() || (d.get<std::string>() != "fail" && d.get<std::string>() != "continue")) {
      return std::unexpected(unprocessable("on_drop", "must be \"fail\" (end it at the first lost frame) or "
                                                      "\"continue\" (record on, gaps written down)"));
    }
    r.fail_on_drop = d.get<std::string>() == "fail";
  }
  if (j.contains("force")) {
    if (!j["force"].is_boolean()) return std::unexpected(unprocessable("force", "must be true or false"));
    r.force = j["force"].get<bool>();
  }
  if (j.contains("stall_timeout_s")) {
    const auto& s = j["stall_timeout_s"];
    if (!s.is_number() || !(s.get<double>() > 0) || s.get<double>() > 86400.0) {
      return std::unexpected(unprocessable("stall_timeout_s", "must be a number of seconds in (0, 86400]"));
    }
    r.stall_timeout_s = s.get<double>();
  }
  if (roots.empty()) return std::unexpected(Reply{500, {{"error", "no recording root is configured"}}});
  r.root = roots.front();
  if (j.contains("root")) {
    if (!j["root"].is_string() || std::find(roots.begin(), roots.end(), j["root"].get<std::string>()) == roots.end()) {
      return std::unexpected(unprocessable(
          "root", fmt::format("must be one of the pipeline's recording roots: {}", nlohmann::json(roots).dump())));
    }
    r.root = j["root"].get<std::string>();
  }
  return r;
}

}  // namespace framering::supervise
