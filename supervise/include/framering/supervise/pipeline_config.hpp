// pipeline_config.hpp: a whole pipeline described in TOML (config/*.toml), read with toml++ and
// checked against each stage's own command line before anything starts.
//
//   instance = "default"            # rings are /dev/shm/framering.<instance>.<ring>
//   [restart]                        # optional
//   max_restarts = 5                 # restarts in a row (a healthy run resets the count); then given up
//   backoff_ms = 200                 # first restart delay, doubled each time
//   backoff_max_ms = 5000            # (an every consumer's delay is also capped: docs/stages.md)
//   healthy_after_ms = 10000         # a stage up this long counts as healthy: backoff starts over
//   [http]                           # optional: the HTTP API (docs/http-api.md); `run --http` also turns it on
//   address = "127.0.0.1"            # anything but loopback needs a token
//   port = 8080                      # 0: any free port (logged)
//   token = "..."                    # clients send "Authorization: Bearer <token>"
//   recording_roots = ["recordings"] # where POST /api/v1/recordings may write (the first is the default)
//   web_root = "web"                 # the live view page's files (default: the source tree's web/)
//   [[stage]]                        # one per process, started in file order
//   name = "acquire"                 # label, and the consumer name of a consuming stage
//   run = "acquire"                  # framering subcommand (default: name)
//   source = "pattern"               # every other key is that subcommand's --option
//   [[stage]]                        # any program as a stage (docs/stages.md)
//   name = "analysis"
//   command = ["/usr/bin/python3", "analysis.py", "--threshold", "100"]
//   consumes = [{ ring = "raw", kind = "every", dead_timeout_s = 2 }]   # kind: newest | every
//   produces = ["stats"]
//
// Values become arguments: strings and numbers `--key value`, booleans `--key=true|false`,
// arrays `--key v1 v2 ...`.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "framering/common/stage_command.hpp"

namespace framering::supervise {

/// One stage: a `framering <run> ...` process, or any program (`command`).
struct StageConfig {
  std::string name;
  std::string run;                  ///< framering subcommand ("record", "bridge send"); empty for a command stage
  std::vector<std::string> args;    ///< after the subcommand
  std::vector<std::string> command; ///< a command stage's program and its arguments
  std::vector<RingUse> rings;       ///< a command stage's declared rings (a built-in declares its own)
  std::uint32_t line = 0;           ///< where its [[stage]] table starts in the file
  [[nodiscard]] bool is_command() const noexcept { return !command.empty(); }
};

/// Restart policy for stages that die.
struct RestartPolicy {
  std::uint32_t max_restarts = 5;       ///< restarts in a row; a healthy run starts the count over
  std::uint32_t backoff_ms = 200;       ///< first delay, doubled per restart in a row
  std::uint32_t backoff_max_ms = 5000;  ///< cap (an every consumer's is also capped by its dead timeout)
  std::uint32_t healthy_after_ms = 10000;  ///< up this long: the next death is a first one again
};

/// The [http] table.
struct HttpConfig {
  std::optional<std::string> address;
  std::optional<std::uint16_t> port;  ///< set: the API is on even without `run --http`
  std::string token;
  std::vector<std::string> recording_roots;  ///< empty: {"recordings"}
  std::optional<std::string> web_root;       ///< the live view page's folder; unset: the source tree's web/
};

struct PipelineConfig {
  std::string source;  ///< file path, or "embedded:default.toml"
  std::string instance = "default";
  RestartPolicy restart;
  HttpConfig http;
  std::vector<StageConfig> stages;
};

/// Reads and checks a pipeline. Throws ConfigError whose message starts "FILE:LINE:" and names
/// the table and key: TOML syntax errors, unknown top-level keys, a stage without a name, a
/// duplicate name, an unknown subcommand, a value of the wrong type, and anything the stage's
/// own parser rejects (unknown option, out-of-range or unconvertible value, failed check such
/// as a missing file), a ring name the stage's options give that no segment can have ("", "a/b");
/// for a command stage, a program that is not found or not executable, and ring declarations
/// that are malformed. `stages` builds a parser that knows every stage
/// subcommand (framering::app::add_stage_subcommands, app/), so a stage is checked by exactly the parser it will use.
[[nodiscard]] PipelineConfig load_pipeline(const std::string& path, const StageParserFactory& stages);

/// The same, from TOML text (`source` names it in messages).
[[nodiscard]] PipelineConfig parse_pipeline(const std::string& text, const std::string& source,
                                            const StageParserFactory& stages);

/// config/default.toml as built into the executable.
[[nodiscard]] const std::string& embedded_default_config();

/// The words of a stage's `run` ("bridge send" -> {"bridge", "send"}): the subcommand path the
/// stage's command line starts with.
[[nodiscard]] std::vector<std::string> run_words(const std::string& run);

}  // namespace framering::supervise
