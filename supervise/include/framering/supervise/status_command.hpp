// status_command.hpp: `framering status`: every ring of an instance, its producer and its
// consumers, once or live (--watch).
#pragma once

#include <functional>
#include <vector>

#include <nlohmann/json.hpp>

#include "framering/common/ring_status.hpp"

namespace CLI {
class App;
}

namespace framering::supervise {

/// What `framering status --json` prints for these rings (one instance's list_instance()): an
/// array of ring::to_json(listing). The HTTP API's GET /api/v1/status serves the same.
[[nodiscard]] nlohmann::json status_json(const std::vector<ring::RingListing>& listings);

/// Adds the `status` subcommand to `app`. When the user selects it, `action` is set to the
/// function that runs it and returns the exit code (0; 2 when a ring could not be read).
void add_status_subcommand(CLI::App& app, std::function<int()>& action);

}  // namespace framering::supervise
