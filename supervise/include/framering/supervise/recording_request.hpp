// recording_request.hpp: the body of `POST /api/v1/recordings` read and checked before the
// supervisor sees it: a JSON object {"name", "ring", "frames" | "seconds" | neither, "on_drop",
// "force", "root", "stall_timeout_s"}. Pure: unit-tested.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "framering/supervise/run_service.hpp"

namespace framering::supervise {

/// The request as StartRecording, or the reply that refuses it: 400 when the body is not JSON
/// (the message is the parser's: where and what), 422 when it is JSON but a field is missing, of
/// the wrong type or out of range, or unknown (the message names the field). `roots`: the
/// recording roots the pipeline allows; "root" must be one of them (default: the first).
[[nodiscard]] std::expected<StartRecording, Reply> parse_recording_request(std::string_view body,
                                                                           const std::vector<std::string>& roots);

/// Why `name` cannot be a recording's folder name inside its root, or "" when it can: 1-100
/// characters of A-Z a-z 0-9 . _ -, not starting with '.' (so no "..", no separators, not
/// absolute, not hidden).
[[nodiscard]] std::string recording_name_problem(std::string_view name);

}  // namespace framering::supervise
