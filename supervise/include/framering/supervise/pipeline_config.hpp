// pipeline_config.hpp: a whole pipeline described in TOML (config/*.toml), read with toml++ and
// checked against each stage's own command line before anything starts.
//
//   instance = "default"            # rings are /dev/shm/framering.<instance>.<ring>
//   [restart]                        # optional
//   max_restarts = 5                 # per stage; then that stage is given up
//   backoff_ms = 200                 # first restart delay, doubled each time
//   backoff_max_ms = 5000
//   [[stage]]                        # one per process, started in file order
//   name = "acquire"                 # label, and the consumer name of a consuming stage
//   run = "acquire"                  # subcommand (default: name)
//   source = "pattern"               # every other key is that subcommand's --option
//
// Values become arguments: strings and numbers `--key value`, booleans `--key=true|false`,
// arrays `--key v1 v2 ...`.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace framering::supervise {

/// One stage: a `framering <run> ...` process.
struct StageConfig {
  std::string name;
  std::string run;                 ///< subcommand
  std::vector<std::string> args;   ///< after the subcommand, before --instance
  std::uint32_t line = 0;          ///< where its [[stage]] table starts in the file
};

/// Restart policy for stages that die.
struct RestartPolicy {
  std::uint32_t max_restarts = 5;
  std::uint32_t backoff_ms = 200;
  std::uint32_t backoff_max_ms = 5000;
};

struct PipelineConfig {
  std::string source;  ///< file path, or "embedded:default.toml"
  std::string instance = "default";
  RestartPolicy restart;
  std::vector<StageConfig> stages;
};

/// Builds a parser that knows every stage subcommand (the same functions app/main.cpp uses), so
/// that a configuration is checked by exactly the parser its processes will use.
using StageParserFactory = std::function<void(CLI::App& app, std::function<int()>& action)>;

/// Reads and checks a pipeline. Throws ConfigError whose message starts "FILE:LINE:" and names
/// the table and key: TOML syntax errors, unknown top-level keys, a stage without a name, a
/// duplicate name, an unknown subcommand, a value of the wrong type, and anything the stage's
/// own parser rejects (unknown option, out-of-range or unconvertible value, failed check such
/// as a missing file).
[[nodiscard]] PipelineConfig load_pipeline(const std::string& path, const StageParserFactory& stages);

/// The same, from TOML text (`source` names it in messages).
[[nodiscard]] PipelineConfig parse_pipeline(const std::string& text, const std::string& source,
                                            const StageParserFactory& stages);

/// config/default.toml as built into the executable.
[[nodiscard]] const std::string& embedded_default_config();

}  // namespace framering::supervise
