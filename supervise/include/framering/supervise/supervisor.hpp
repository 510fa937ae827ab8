// supervisor.hpp: `framering run`: starts every stage of a pipeline as its own process,
// restarts the one that dies (with backoff, up to a limit), stops them all in order on
// SIGINT/SIGTERM (producers first, then each consumer once the every-consumers have drained),
// shows a live status line and prints a summary. With --http (or an [http] table) it also serves
// the HTTP API (http_server.hpp, docs/http-api.md): status, metrics, recordings, events.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "framering/supervise/pipeline_config.hpp"

namespace framering::supervise {

/// What `framering run` was asked.
struct RunOptions {
  std::string config_path;              ///< empty: the embedded config/default.toml
  std::optional<std::string> instance;  ///< overrides the file's `instance`
  std::uint64_t frames = 0;             ///< > 0: each acquire stage publishes this many, then the run drains and ends
  double duration_s = 0;                ///< > 0: the run ends after this long
  std::string summary_json;             ///< also write the summary here
  bool dry_run = false;                 ///< check the config and print the commands; start nothing
  bool keep_rings = false;              ///< leave the segments in /dev/shm at the end
  std::string log_level = "info";
  std::string executable = "/proc/self/exe";  ///< the framering binary the stages run
  std::optional<std::string> http;      ///< --http [ADDRESS:]PORT: serve the HTTP API (overrides [http] address, port)
  std::optional<std::string> http_token;  ///< FRAMERING_HTTP_TOKEN: overrides [http] token
};

/// Runs a pipeline to its end. Exit code: 0 when every stage ended well and no frame that an
/// every consumer was meant to keep was lost or dropped; 2 when it could not start (a bad
/// config, a stage that failed at start, the instance already running) or a stage had to be
/// given up; 3 when frames were lost. Throws ConfigError for a bad config, and for an HTTP
/// address that is not loopback without a token or that cannot be bound.
[[nodiscard]] int run_pipeline(const RunOptions& options, const StageParserFactory& stages);

}  // namespace framering::supervise
